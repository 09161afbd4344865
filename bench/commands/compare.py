"""`bench compare SUITE --tolerance T`: measured vs published; exit 1 on a regression."""

from __future__ import annotations

import argparse

from rich.markup import escape
from rich.table import Table

from bench.commands.common import add_suite_arguments, load_settings, load_suite, out
from bench.errors import BenchError
from bench.text import plural


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "compare", help="compare measured cells with published values; exit 1 on a regression"
    )
    add_suite_arguments(cmd)
    cmd.add_argument("--tolerance", type=float, default=1.0, help="allowed shortfall in points (default 1.0)")
    cmd.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.report.collect import collect
    from bench.report.compare import compare

    if args.tolerance < 0:
        raise BenchError(f"--tolerance must be >= 0, got {args.tolerance}")
    suite, settings = load_suite(args), load_settings(args)
    compared, skipped = compare(collect(suite, settings), args.tolerance)
    scale = f" at reduced scale ×{suite.scale:g}" if suite.scale < 1 else ""
    table = Table(title=f"{suite.name}{scale}: measured vs published (tolerance {args.tolerance:g} points)")
    for column in ("method", "dataset", "backbone", "epochs", "ours", "n", "published", "Δ", "verdict"):
        table.add_column(column)
    for c in compared:
        cell = c.cell
        table.add_row(
            cell.method,
            cell.dataset,
            cell.backbone,
            str(cell.epochs),
            f"{cell.mean:.2f}",
            str(cell.n),
            f"{cell.primary.value:.2f}",
            f"{cell.delta:+.2f}",
            "[red]REGRESSION[/]" if c.regression else "[green]ok[/]",
        )
    out.print(table)
    for line in _in_progress(suite, settings):
        out.print(escape(line))
    for cell in skipped:
        out.print(
            escape(
                f"not compared: {cell.method}/{cell.dataset}/{cell.backbone}: {cell.not_comparable_reason}"
            )
        )
    regressions = [c for c in compared if c.regression]
    if not compared:
        out.print("no cell is comparable with a published value; nothing was checked")
    out.print(
        f"{len(compared)} compared, {plural(len(regressions), 'regression')}, {len(skipped)} not comparable"
    )
    return 1 if regressions else 0


def _in_progress(suite, settings) -> list[str]:
    """Unfinished runs beside their cell's released log at the same epoch (bench.published.track)."""
    from bench.published.track import progress_lines
    from bench.suite import expand

    return progress_lines(expand(suite), settings.runs_root, settings.published_dir / "logs")
