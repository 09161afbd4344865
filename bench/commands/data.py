"""`bench data check [NAME...]`: is each dataset where the harness looks, and is it the release?"""

from __future__ import annotations

import argparse

from rich.markup import escape
from rich.table import Table

from bench.commands.common import load_settings, out

CHECK_HELP = """\
For each named dataset (default: every registered one), look under the data root and report
whether it is found, its split sizes and class count against the full release, and the exact
problem when it is not usable (missing file, label outside the class range, wrong class count,
unreadable image). It reads the label files and lists the image folders but decodes only a few
sample images per split, so it takes seconds even for ImageNet; an unreadable image elsewhere is
reported when a job reads it.

Exit status 1 if a dataset named on the command line is missing, unusable or differs from the
full release; without names, only for datasets that are found but unusable or incomplete.
"""

STYLE = {"ok": "green", "generated": "green", "not found": "yellow", "incomplete": "yellow", "error": "red"}


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("data", help="check the dataset releases under the data root")
    actions = cmd.add_subparsers(dest="action", required=True, metavar="ACTION", help="what to do")
    check = actions.add_parser(
        "check",
        help="check datasets on disk (sizes, classes, labels, sample images)",
        description=CHECK_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("names", nargs="*", metavar="NAME", help="registered dataset names (default: all)")
    check.add_argument(
        "--data-root", help="folder with the dataset releases (overrides bench.toml and BENCH_DATA_ROOT)"
    )
    check.set_defaults(func=run_check)


def _count(found: int | None, expected: int) -> str:
    if found is None:
        return "[red]unreadable[/]"
    text = f"{found:,} / {expected:,}"
    return text if found == expected else f"[yellow]{text}[/]"


def run_check(args: argparse.Namespace) -> int:
    from bench import registry
    from bench.data.check import inspect

    settings = load_settings(args)
    names = args.names or list(registry.DATASETS)
    specs = [registry.get("datasets", name).load() for name in names]  # unknown names: exit 2
    reports = [inspect(spec, settings.data_root) for spec in specs]

    table = Table(title=f"datasets under {escape(str(settings.data_root))}")
    for column in ("dataset", "status", "train", "test", "classes", "folder"):
        table.add_column(column)
    for report in reports:
        counts = {s.name: _count(s.found, s.expected) for s in report.splits}
        classes = "" if report.classes is None else f"{report.classes} / {report.expected_classes}"
        if report.classes is not None and report.classes != report.expected_classes:
            classes = f"[red]{classes}[/]"
        table.add_row(
            report.dataset,
            f"[{STYLE[report.status]}]{report.status}[/]",
            counts.get("train", ""),
            counts.get("test", ""),
            classes,
            escape(str(report.path)) if report.path else "(generated, nothing on disk)",
        )
    out.print(table)
    sampled = sum(r.sampled for r in reports)
    out.print(f"sample images decoded: {sampled} (a few per split; see `bench data check --help`)")
    for report in reports:
        if report.status == "not found" and not args.names:  # the full layout only when asked for
            where = f"not found in {report.path.parent}"
            out.print(
                f"[bold]{report.dataset}[/]: {escape(where)} (`bench data check {report.dataset}` shows the layout)"
            )
            continue
        for line in report.problems + report.notes:
            out.print(f"[bold]{report.dataset}[/]: {escape(line)}", soft_wrap=True)
    if args.names:
        failed = [r for r in reports if r.status not in ("ok", "generated")]
    else:
        failed = [r for r in reports if r.status in ("error", "incomplete")]
    return 1 if failed else 0
