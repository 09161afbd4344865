"""`bench compare SUITE [--tolerance T] [--tolerance-se K]`: every cell against its published value.

A CI gate: exit 0 when every cell was compared and is within the band, 1 when a compared cell is
outside it (regression or above), 3 when the check is incomplete (a failed or not-run cell, or
nothing compared); 2, as for every command, on a usage error. States and the band:
`bench/report/compare.py`.
"""

from __future__ import annotations

import argparse

from rich.markup import escape
from rich.table import Table

from bench.commands.common import add_suite_arguments, load_settings, load_suite, out
from bench.errors import BenchError

STYLE = {
    "ok": "green",
    "regression": "red",
    "above": "magenta",
    "failed": "red",
    "not run": "yellow",
    "not comparable": "dim",
    "no published value": "dim",
}


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "compare",
        help="every cell against its published value; exit 0 all ok, 1 outside the band, 3 incomplete",
        description=__doc__.split("\n\n")[0],
    )
    add_suite_arguments(cmd)
    cmd.add_argument(
        "--tolerance", type=float, default=1.0, help="fixed half-width of the band in points (default 1.0)"
    )
    cmd.add_argument(
        "--tolerance-se",
        type=float,
        metavar="K",
        help="widen the band by K standard errors of Δ, s·√(1/n + 1) over the cell's n seeds "
        "(cells with one seed are then not comparable)",
    )
    cmd.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.report.collect import collect
    from bench.report.compare import compare, exit_code, summary
    from bench.report.names import row_name, short_name
    from bench.report.precision import decimals_of, provenance_lines

    if args.tolerance < 0:
        raise BenchError(f"--tolerance must be >= 0, got {args.tolerance}")
    if args.tolerance_se is not None and args.tolerance_se < 0:
        raise BenchError(f"--tolerance-se must be >= 0, got {args.tolerance_se}")
    suite, settings = load_suite(args), load_settings(args)
    cells = collect(suite, settings)
    verdicts = compare(cells, args.tolerance, args.tolerance_se)
    band = f"±{args.tolerance:g} points" + (
        f" + {args.tolerance_se:g} SE of Δ" if args.tolerance_se is not None else ""
    )
    scale = f" at reduced scale ×{suite.scale:g}" if suite.scale < 1 else ""
    table = Table(title=f"{suite.name}{scale}: measured vs published (band {band})")
    for column in ("method", "column", "ours", "n", "published", "Δ", "state", "why"):
        table.add_column(column)
    for v in verdicts:
        c = v.cell
        digits = decimals_of([c])
        ours = "—" if c.mean is None else f"{c.mean:.{digits}f}"
        published = "—" if c.primary is None else f"{c.primary.value:.2f}"
        delta = "" if v.delta is None else f"{v.delta:+.{digits}f}"
        colour = STYLE[v.state.value]
        table.add_row(
            escape(row_name([x for x in cells if x.method == c.method])),
            escape(short_name((c.dataset, c.backbone, c.epochs))),
            ours,
            f"{c.n}/{c.expected}",
            published,
            delta,
            f"[{colour}]{v.state.value}[/]",
            escape(v.detail),
        )
    out.print(table)
    for line in _in_progress(suite, settings):  # unfinished runs beside their released log
        out.print(escape(line))
    for line in provenance_lines(cells):  # what produced the runs compared
        out.print(f"produced by {line[2:]}", markup=False)
    out.print(summary(verdicts), markup=False)
    return exit_code(verdicts)


def _in_progress(suite, settings) -> list[str]:
    """Unfinished runs beside their cell's released log at the same epoch (bench.published.track)."""
    from bench.published.track import progress_lines
    from bench.suite import expand

    return progress_lines(expand(suite), settings.runs_root, settings.published_dir / "logs")
