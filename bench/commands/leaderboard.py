"""`bench leaderboard SUITE`: reports/<suite>.md, .csv and figures from the run records."""

from __future__ import annotations

import argparse

from bench.commands.common import add_suite_arguments, load_settings, load_suite, out


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "leaderboard", help="write reports/<suite>.md, .csv and figures (.png) from the run records"
    )
    add_suite_arguments(cmd)
    cmd.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.report.terminal import render
    from bench.report.write import write_leaderboard

    md, csv_path, figures = write_leaderboard(load_suite(args), load_settings(args))
    for block in render(md.read_text()):  # the Markdown file stays as written; styled tables here
        out.print(block)
    out.print(f"written: {md}, {csv_path}, " + ", ".join(map(str, figures)), markup=False)
    return 0
