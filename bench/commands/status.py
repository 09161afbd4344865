"""`bench status SUITE`: every job's state (done, running, error, queued, interrupted, pending),
read from the run folders only, so it shows the same for every executor, on any machine that
sees the folders (a cluster's login node included)."""

from __future__ import annotations

import argparse
import os
from collections import Counter

from rich.markup import escape
from rich.table import Table

from bench.commands.common import add_suite_arguments, load_settings, load_suite, out
from bench.status import STATES
from bench.text import plural

STYLE = {"done": "green", "running": "cyan", "error": "red", "queued": "blue", "interrupted": "yellow"}


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("status", help="show every job's state, read from the run folders")
    add_suite_arguments(cmd)
    cmd.add_argument("--state", action="append", choices=STATES, help="only jobs in this state (repeatable)")
    cmd.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.status import suite_states
    from bench.suite import expand

    suite, settings = load_suite(args), load_settings(args)
    states = suite_states(expand(suite), settings.runs_root)
    shown = [s for s in states if not args.state or s.state in args.state]
    folder = settings.runs_root / suite.name
    table = Table(title=f"{suite.name}: {plural(len(states), 'job')}; logs under {os.path.relpath(folder)}/")
    tracking = _tracking(shown, settings)
    for column in ("state", "method", "backbone", "dataset", "seed", "epochs", "detail"):
        table.add_column(column)
    if tracking:
        table.add_column("vs released log")
    table.add_column("log", no_wrap=True)
    for s in shown:
        style = STYLE.get(s.state, "")
        table.add_row(
            f"[{style}]{s.state}[/]" if style else s.state,
            escape(s.job.method),
            s.job.backbone,
            s.job.dataset,
            str(s.job.seed),
            f"{s.epochs}/{s.job.recipe.epochs}",
            escape(s.detail),
            *([tracking[s.job.id].text() if s.job.id in tracking else ""] if tracking else []),
            escape(os.path.relpath(s.log, folder)) if s.log else "",
        )
    out.print(table)
    counts = Counter(s.state for s in states)
    out.print(", ".join(f"{counts[name]} {name}" for name in STATES if counts[name]))
    return 0


def _tracking(states: list, settings) -> dict:
    """Runs in progress beside the released log of their cell at the same epoch (bench.published.track)."""
    from bench.published.track import for_jobs

    moving = [s.job for s in states if s.state in ("running", "interrupted") and s.epochs]
    return for_jobs(moving, settings.runs_root, settings.published_dir / "logs") if moving else {}
