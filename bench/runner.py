"""Run a suite: expand it, check its data, skip finished jobs, execute the rest, write the leaderboard."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import executors, locks, registry, results
from bench.data.base import DataError
from bench.data.check import validate
from bench.executors.events import Events
from bench.job import Job
from bench.models import pretrained
from bench.report import leaderboard, plots
from bench.report.collect import collect
from bench.settings import Settings
from bench.suite import Suite, expand


@dataclass
class RunSummary:
    jobs: list[Job]
    skipped: list[Job]  # already finished
    records: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    elsewhere: list[tuple[Job, str]] = field(default_factory=list)  # run or finished by another process
    submitted: list[Job] = field(default_factory=list)  # queued on a cluster and not waited for

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("status") != "ok"]


def check_data(jobs: list[Job], settings: Settings) -> None:
    """Every dataset the jobs need is present and readable (labels, class count, sample images);
    otherwise one error listing each problem."""
    problems = []
    for name in dict.fromkeys(j.dataset for j in jobs):
        try:
            validate(registry.get("datasets", name).load(), settings.data_root)
        except DataError as exc:
            problems.append(str(exc))
    if problems:
        raise DataError("\n\n".join(problems))


def split_finished(jobs: list[Job], settings: Settings) -> tuple[list[Job], list[Job]]:
    """(finished, pending): a job is finished when its folder holds an ok result with its id."""
    finished, pending = [], []
    for job in jobs:
        (finished if results.is_finished(job.run_dir(settings.runs_root), job.id) else pending).append(job)
    return finished, pending


class _Tally:
    """Forwards events to the caller's, noting the jobs that ran elsewhere."""

    def __init__(self, events: Events, summary: RunSummary) -> None:
        self.events, self.summary = events, summary

    def started(self, job: Job) -> None:
        self.events.started(job)

    def epoch(self, job: Job, epoch: int) -> None:
        self.events.epoch(job, epoch)

    def finished(self, job: Job, record: dict[str, Any]) -> None:
        self.events.finished(job, record)

    def skipped(self, job: Job, reason: str) -> None:
        self.summary.elsewhere.append((job, reason))
        self.events.skipped(job, reason)

    def info(self, message: str) -> None:
        self.events.info(message)


def run_suite(
    suite: Suite,
    settings: Settings,
    events: Events,
    executor: str | None = None,
    jobs: list[Job] | None = None,
) -> RunSummary:
    """Run every unfinished job of the suite (`jobs`: its expansion, if the caller has it)."""
    jobs = expand(suite) if jobs is None else jobs
    finished, pending = split_finished(jobs, settings)
    name = executor or settings.run.executor
    module = executors.get(name)
    if pending:
        check_data(pending, settings)  # before any job starts
        pretrained.check_jobs(pending, settings.weights_dir)
        module.check(pending, settings)
    started = time.time()
    summary = RunSummary(jobs=jobs, skipped=finished)
    tally = _Tally(events, summary)
    runnable = []
    for job in pending:
        holder = locks.probe(job.run_dir(settings.runs_root))
        if holder is None:
            runnable.append(job)
        else:
            tally.skipped(job, f"running in another process ({holder.describe()})")
    if runnable:
        summary.records = module.run(runnable, settings, tally)
    if name == "slurm" and not settings.slurm.wait:
        summary.submitted = runnable
    summary.seconds = time.time() - started
    return summary


def report_name(suite: Suite) -> str:
    """The leaderboard's file stem: the suite's name, with the scale when it is reduced."""
    return suite.name if suite.scale == 1 else f"{suite.name}-scale{suite.scale:g}"


def write_leaderboard(suite: Suite, settings: Settings) -> tuple[Path, Path, list[Path]]:
    """reports/<name>.md, .csv and the figures (<name>-top1.png, -curves.png, -delta.png, and
    -cost.png when some cell has a training cost)."""
    from bench.report import cost, cost_figure, released
    from bench.runtime import git_commit

    cells = collect(suite, settings)
    costs = cost.costs(cells, cost.perf_ratios(settings.reports_dir))
    kinds = ["top1", "curves", "delta"] + (["cost"] if cost_figure.cost_panels(cells, costs) else [])
    name = report_name(suite)
    runs = settings.runs_root / suite.name
    title = f"Leaderboard: {suite.name}"
    if suite.only:
        title += f", slice {suite.slice_text}"
    if suite.scale < 1:
        title += f" at reduced scale ×{suite.scale:g} (not comparable with published numbers)"
    note = (
        f"Generated by `bench leaderboard {suite.path}"
        + (f" --scale {suite.scale:g}" if suite.scale < 1 else "")
        + "".join(f" --only {axis}={','.join(map(str, values))}" for axis, values in suite.only)
        + f"` from the run records in `{_relative(runs, settings)}`; do not edit by hand. "
        f"Seeds: {', '.join(map(str, suite.data.axes.seeds))}. Published values and their sources: "
        "`results/published/`. Figures: "
        + ", ".join(f"`{name}-{kind}.png`" for kind in kinds)
        + f". Written by the code at commit {git_commit() or 'unknown'}."
    )
    logs = released.released_values(cells, settings.published_dir)
    md, csv_path = leaderboard.write(
        cells, settings.reports_dir, name, title=title, source_note=note, costs=costs, logs=logs
    )
    figures = plots.write(cells, settings.reports_dir, name, title=title)
    return md, csv_path, figures + cost_figure.write(cells, costs, settings.reports_dir, name, title=title)


def _relative(path: Path, settings: Settings) -> str:
    try:
        return str(path.resolve().relative_to(Path(settings.base_dir).resolve()))
    except ValueError:
        return str(path)
