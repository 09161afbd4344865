"""`bench ls methods|backbones|datasets`: what is registered."""

from __future__ import annotations

import argparse

from rich.table import Table

from bench.commands.common import out


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("ls", help="list registered methods, backbones or datasets")
    cmd.add_argument("kind", choices=["methods", "backbones", "datasets"], help="what to list")
    cmd.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench import registry

    table = Table(title=f"registered {args.kind}")
    table.add_column("name")
    table.add_column("description")
    table.add_column("published as")
    for name, entry in registry.KINDS[args.kind].items():
        table.add_row(name, entry.describe(), ", ".join(entry.published))
    out.print(table)
    return 0
