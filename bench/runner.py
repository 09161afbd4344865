"""Run a suite: expand it, check its data and device, skip finished jobs, execute the rest.

Jobs live in the run store (bench/records.py) by content: a job another suite has finished is
skipped here too. Before anything runs, every job of the suite gets its link in the suite's view
(`<runs>/<suite>/...`), and run folders of the layout before the store are moved into it.
Reports are written by the report side (bench/report/write.py), never here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bench import executors, locks, records, registry
from bench.data.base import DataError
from bench.data.check import validate
from bench.errors import BenchError
from bench.executors.events import Events
from bench.job import Job
from bench.models import pretrained
from bench.records import Result
from bench.settings import Settings
from bench.suite import Suite, expand


@dataclass
class RunSummary:
    jobs: list[Job]
    skipped: list[Job]  # already finished
    records: list[Result] = field(default_factory=list)
    seconds: float = 0.0
    elsewhere: list[tuple[Job, str]] = field(default_factory=list)  # run or finished by another process
    submitted: list[Job] = field(default_factory=list)  # queued on a cluster and not waited for

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.records if not r.ok]


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


def check_device(settings: Settings, executor: str) -> None:
    """A device the settings name is there, before any job starts (a Slurm job's is on its node)."""
    if settings.run.device != "cuda" or executor == "slurm":
        return
    import torch

    if not torch.cuda.is_available():
        raise BenchError(
            "--device cuda (or device = 'cuda' in bench.toml), but torch sees no CUDA device on this "
            "machine; use --device auto or cpu, or run where a GPU is visible"
        )


def check_dependencies(jobs: list[Job]) -> None:
    """Every method the jobs train has its optional dependencies installed."""
    for name in sorted({job.method_name for job in jobs}):
        missing = registry.get("methods", name).load().missing_dependency()
        if missing:
            raise BenchError(f"{name} cannot run here: {missing}")


def split_finished(jobs: list[Job], settings: Settings) -> tuple[list[Job], list[Job]]:
    """(finished, pending): a job is finished when its folder holds an ok result with its id that
    its other records agree with (bench/records.py), whichever suite ran it."""
    finished, pending = [], []
    for job in jobs:
        done = records.read_run(records.locate(job, settings.runs_root), job).done
        (finished if done else pending).append(job)
    return finished, pending


def adopt_legacy(jobs: list[Job], settings: Settings, events: Events) -> None:
    """Move run folders of the layout before the store into it (nothing is written if there are none)."""
    moved = sum(records.adopt_legacy(job, settings.runs_root) for job in jobs)
    if moved:
        events.info(f"moved {moved} run folder(s) into the run store {settings.runs_root / records.STORE}")


class _Tally:
    """Forwards events to the caller's, noting the jobs that ran elsewhere."""

    def __init__(self, events: Events, summary: RunSummary) -> None:
        self.events, self.summary = events, summary

    def started(self, job: Job) -> None:
        self.events.started(job)

    def epoch(self, job: Job, epoch: int) -> None:
        self.events.epoch(job, epoch)

    def finished(self, job: Job, record: Result) -> None:
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
    name = executor or settings.run.executor
    module = executors.get(name)
    adopt_legacy(jobs, settings, events)
    finished, pending = split_finished(jobs, settings)
    if pending:
        check_device(settings, name)
        check_dependencies(pending)  # before any job starts
        check_data(pending, settings)
        pretrained.check_jobs(pending, settings.weights_dir)
        module.check(pending, settings)
    for job in jobs:
        records.link_view(job, settings.runs_root)
    started = time.time()
    summary = RunSummary(jobs=jobs, skipped=finished)
    tally = _Tally(events, summary)
    runnable: dict[str, Job] = {}
    for job in pending:
        twin = runnable.get(job.id)
        if twin is not None:  # two cells of this suite are the same job: it runs once, both read it
            events.skipped(job, f"the same job as {twin.method} (trained once, read by both cells)")
            continue
        holder = locks.probe(job.run_dir(settings.runs_root))
        if holder is None:
            runnable[job.id] = job
        else:
            tally.skipped(job, f"running in another process ({holder.describe()})")
    if runnable:
        summary.records = module.run(list(runnable.values()), settings, tally)
    if name == "slurm" and not settings.slurm.wait:
        summary.submitted = list(runnable.values())
    summary.seconds = time.time() - started
    return summary
