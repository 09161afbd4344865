"""`bench run SUITE`: train every unfinished job, then write the leaderboard."""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from rich.console import Console
from rich.markup import escape

from bench.commands.common import (
    add_device_arguments,
    add_format_argument,
    add_suite_arguments,
    err,
    figure_formats,
    load_settings,
    load_suite,
    out,
)
from bench.text import plural


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("run", help="train every unfinished job of a suite, then write its leaderboard")
    add_suite_arguments(cmd)
    cmd.add_argument(
        "--executor", choices=["inline", "local", "slurm"], help="override bench.toml's executor"
    )
    add_device_arguments(cmd)
    add_format_argument(cmd)
    cmd.add_argument("--workers", type=int, help="local executor: CPU worker processes")
    cmd.add_argument(
        "--compile", action="store_true", default=None, help="torch.compile the model (falls back to eager)"
    )
    cmd.add_argument(
        "--wait",
        action="store_true",
        default=None,
        help="slurm executor: wait for the array to finish, then write the leaderboard (default: submit and return)",
    )
    cmd.set_defaults(func=run)


class Progress:
    """Progress for `bench run`: a bar over the suite's epochs with an ETA (a live bar on a
    terminal, a line every few seconds in a log), and one line per finished job either way."""

    def __init__(self, jobs: list[Any], console: Console) -> None:
        self.console = console
        self.total = len(jobs)
        self.done = 0
        self.epochs = sum(j.recipe.epochs for j in jobs)
        self.running: dict[str, str] = {}
        self._stack = contextlib.ExitStack()
        self.bar: Any = None

    def __enter__(self) -> Progress:
        from bench.progress import progress

        if self.epochs:  # nothing to train: no bar
            self.bar = self._stack.enter_context(progress("epochs", total=self.epochs, console=self.console))
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stack.__exit__(*exc)

    def started(self, job: Any) -> None:
        self.running[job.id] = job.label
        self._describe()

    def epoch(self, job: Any, epoch: int) -> None:
        if self.bar is not None:
            self.bar.advance()

    def finished(self, job: Any, record: Any) -> None:
        self.done += 1
        name = self.running.pop(job.id, job.method)
        if record.ok:
            final = record.final()
            status = f"[green]ok[/] final top-1 ({final[0]}) {final[1]:.2f}" if final else "[green]ok[/]"
        else:
            status = f"[red]error[/] {escape(record.first_line)}"
        wall = record.wall_seconds
        self.console.print(
            f"\\[{self.done}/{self.total}] {escape(name)}: {status} ({wall:.1f} s){self._eta()}"
        )
        self._describe()

    def skipped(self, job: Any, reason: str) -> None:
        self.done += 1
        name = self.running.pop(job.id, None) or job.label
        self.console.print(
            f"\\[{self.done}/{self.total}] {escape(name)}: [yellow]skipped[/], {escape(reason)}"
        )
        self._describe()

    def info(self, message: str) -> None:
        self.console.print(message)

    def _eta(self) -> str:
        from bench.progress import clock

        left = self.bar.remaining() if self.bar is not None and self.done < self.total else None
        return f"; suite ETA {clock(left)}" if left is not None else ""

    def _describe(self) -> None:
        if self.bar is not None:
            running = len(self.running)
            self.bar.describe(f"epochs ({plural(running, 'job')} running)" if running else "epochs")


def run(args: argparse.Namespace) -> int:
    from bench.report.write import write_leaderboard
    from bench.runner import run_suite, split_finished
    from bench.suite import expand

    formats = figure_formats(args.format)
    suite, settings = load_suite(args), load_settings(args)
    jobs = expand(suite)
    scale = (
        f" at reduced scale ×{suite.scale:g} (never comparable with published numbers)"
        if suite.scale < 1
        else ""
    )
    out.print(
        f"suite [bold]{escape(suite.name)}[/] ({escape(suite.path)}): {plural(len(jobs), 'job')}{scale}, "
        f"executor {args.executor or settings.run.executor}, runs in {escape(str(settings.runs_root))}"
    )
    _, pending = split_finished(jobs, settings)
    with Progress(pending, out) as progress:
        summary = run_suite(suite, settings, progress, executor=args.executor, jobs=jobs)
    if summary.submitted:
        out.print(
            f"{len(summary.skipped)} already finished, {len(summary.submitted)} submitted. "
            f"`bench status {escape(suite.path)}` shows every job's state; once they have run, "
            f"`bench leaderboard {escape(suite.path)}` writes the tables"
        )
        return 0
    elsewhere = (
        f", {plural(len(summary.elsewhere), 'job')} left to another process" if summary.elsewhere else ""
    )
    out.print(
        f"{len(summary.skipped)} already finished, {len(summary.records)} run in {summary.seconds:.1f} s, "
        f"{len(summary.failed)} failed{elsewhere}"
    )
    md, csv_path, figures = write_leaderboard(suite, settings, formats)
    out.print(f"leaderboard: {escape(str(md))}, {escape(str(csv_path))} and {plural(len(figures), 'figure')}")
    labels = {job.id: f"{job.method}/{job.backbone}/{job.dataset}/s{job.seed}" for job in jobs}
    for record in summary.failed:
        err.print(
            f"[red]failed[/] {escape(labels.get(record.id, record.label))}: {escape(str(record.error))}"
        )
    robustness_failed = _robustness(suite, settings, jobs, args.executor)
    return 1 if summary.failed or robustness_failed else 0


def _robustness(suite: Any, settings: Any, jobs: list[Any], executor: str | None) -> bool:
    """The suite's robustness section, on the jobs that finished, on the same executor as the
    training; True if an evaluation failed."""
    config = suite.data.robustness
    if config is None or not config.evaluators:
        return False
    from bench import records
    from bench.commands.robustness import evaluate_and_report, report_name

    entries = [(job, records.locate(job, settings.runs_root)) for job in jobs]
    failures = evaluate_and_report(
        entries,
        config,
        settings,
        name=report_name(suite),
        origin=suite.path,
        executor=executor,
        trained_only=True,
    )
    return bool(failures)
