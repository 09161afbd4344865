"""Robustness evaluation through the executors, like training: one `EvaluationJob` per finished run.

An `EvaluationJob` names a finished run's folder, the evaluators asked for and their settings.
It has what an executor asks of a job (`id`, `gpus`, `run_dir(runs_root)`, `to_record()` and the
labels `suite`/`method`/`backbone`/`dataset`/`seed`), so `inline`, `local` and `slurm` run it as
they run training jobs: its folder is `<run folder>/evaluation/` (its spec.json, result.json, lock
and worker logs), and the worker (bench/executors/worker.py) calls `execute`, which runs
`evaluate_run` under that folder's lock. Results go to the run folder's robustness.json, as
before; the task's result.json only says how the evaluation went.

`evaluate_runs` is the driver `bench robustness` and `bench run` call: runs whose store already
holds every evaluation asked for (same settings) get no task at all, so re-running a suite on a
cluster submits nothing once everything is stored.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from bench import executors, locks, results, schema
from bench.errors import BenchError
from bench.evaluate.config import RobustnessConfig
from bench.evaluate.run import evaluate_run, pending
from bench.executors.events import Events
from bench.job import Job
from bench.settings import Settings

FOLDER = "evaluation"  # inside the run folder


@dataclass(frozen=True)
class EvaluationJob:
    job: Job  # the training job whose finished run is evaluated
    run_path: str  # its run folder, absolute (what a worker on another node reads)
    config: RobustnessConfig
    force: bool = False
    kind: ClassVar[str] = "evaluation"
    gpus: int = field(default=1, init=False)  # evaluation runs in one process

    def __post_init__(self) -> None:
        # as its spec.json will give it back (8 -> 8.0), so the id is the same in the worker
        object.__setattr__(
            self, "config", schema.build(RobustnessConfig, schema.to_plain(self.config), "config")
        )

    @property
    def suite(self) -> str:
        return self.job.suite

    @property
    def method(self) -> str:
        return self.job.method

    @property
    def backbone(self) -> str:
        return self.job.backbone

    @property
    def dataset(self) -> str:
        return self.job.dataset

    @property
    def seed(self) -> int:
        return self.job.seed

    def run_dir(self, runs_root: Path | None = None) -> Path:
        """The task's own folder (the run folder is fixed by `run_path`, whatever `runs_root` is)."""
        return Path(self.run_path) / FOLDER

    def _content(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "run": self.run_path,
            "job": self.job.to_record(),
            "config": schema.to_plain(self.config),
            "force": self.force,
        }

    @cached_property
    def id(self) -> str:
        canonical = json.dumps(self._content(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def to_record(self) -> dict[str, Any]:
        return {"id": self.id, **self._content()}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> EvaluationJob:
        task = cls(
            job=Job.from_record(record["job"]),
            run_path=record["run"],
            config=schema.build(RobustnessConfig, record["config"], "config"),
            force=record.get("force", False),
        )
        if task.id != record["id"]:
            raise ValueError(f"evaluation spec id {record['id']} does not match its content ({task.id})")
        return task

    def execute(self, settings: Settings, *, echo: bool = False) -> dict[str, Any]:
        """Evaluate the run (the worker holds this task's lock); the result record, also written."""
        lines: list[str] = []
        log_path = Path(self.run_path) / results.LOG

        def log(message: str) -> None:
            lines.append(message)
            if echo:
                print(f"robustness {message}", flush=True)
            if log_path.parent.is_dir():
                with log_path.open("a") as f:
                    f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} robustness {message}\n")

        started = time.time()
        record: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "run_id": self.job.id,
            "label": self.method,
        }
        try:
            outcome = evaluate_run(Path(self.run_path), self.config, settings, force=self.force, log=log)
            record.update(status="ok", evaluated=outcome.evaluated, skipped=outcome.skipped)
        except BenchError as exc:
            record.update(status="error", error=str(exc))
        except Exception as exc:  # a bug: the traceback goes to the run's log, the other runs go on
            log("error:\n" + traceback.format_exc())
            record.update(status="error", error=f"{type(exc).__name__}: {exc} (traceback in {log_path})")
        record.update(lines=lines, wall_seconds=round(time.time() - started, 3))
        results.write_json(self.run_dir() / results.RESULT, record)
        return record


@dataclass
class EvaluationSummary:
    tasks: list[EvaluationJob]
    stored: list[tuple[Job, Path]]  # runs whose store already held everything asked for
    records: list[dict[str, Any]]
    submitted: bool  # queued on a cluster and not waited for

    @property
    def failures(self) -> dict[Path, str]:
        """run folder -> error, for the evaluations that failed."""
        by_id = {t.id: t for t in self.tasks}
        return {
            Path(by_id[r["id"]].run_path): str(r.get("error") or "failed without a message")
            for r in self.records
            if r.get("status") != "ok" and r.get("id") in by_id
        }


def evaluate_runs(
    entries: list[tuple[Job, Path]],
    config: RobustnessConfig,
    settings: Settings,
    events: Events,
    *,
    executor: str | None = None,
    force: bool = False,
) -> EvaluationSummary:
    """Evaluate every (job, run folder) on the executor (default: bench.toml's), skipping runs
    whose store already holds every evaluation asked for."""
    tasks, stored = [], []
    for job, run_dir in entries:
        if force or pending(run_dir, job, config):
            tasks.append(EvaluationJob(job, str(Path(run_dir).resolve()), config, force))
        else:
            stored.append((job, run_dir))
    name = executor or settings.run.executor
    module = executors.get(name)
    records: list[dict[str, Any]] = []
    if tasks:
        module.check(tasks, settings)
        for task in tasks:
            _clear(task)
        records = module.run(tasks, settings, events)
    submitted = bool(tasks) and name == "slurm" and not settings.slurm.wait
    return EvaluationSummary(tasks, stored, records, submitted)


def _clear(task: EvaluationJob) -> None:
    """Drop the result of an earlier evaluation of this task, so that it runs again (a run being
    evaluated by another process keeps its lock; the worker then reports it as busy)."""
    folder = task.run_dir()
    folder.mkdir(parents=True, exist_ok=True)
    lock = locks.JobLock(folder)
    if lock.acquire():
        try:
            (folder / results.RESULT).unlink(missing_ok=True)
        finally:
            lock.release()
