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

from bench import executors, locks, records, safe_io, schema
from bench.errors import BenchError
from bench.evaluate.config import RobustnessConfig
from bench.evaluate.run import evaluate_run, pending
from bench.executors.events import Events
from bench.executors.worker import EVALUATION_FOLDER as FOLDER
from bench.job import Job
from bench.records import Result
from bench.settings import Settings

DETAILS = "evaluation.json"  # in the task's folder: what was evaluated, what was stored already, the log


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

    @classmethod
    def load(cls, folder: Path) -> EvaluationJob:
        """The task of an evaluation folder, from its spec.json (RecordError if unreadable)."""
        try:
            return cls.from_record(json.loads((Path(folder) / records.SPEC).read_text()))
        except (OSError, ValueError, KeyError, TypeError, BenchError) as exc:
            raise records.RecordError(f"{folder / records.SPEC}: not an evaluation spec ({exc})") from None

    def prepare(self) -> Path:
        """The task's folder, created inside the run folder, with its spec.json."""
        folder = safe_io.make_folder(self.run_dir())
        safe_io.write_json(folder / records.SPEC, self.to_record())
        return folder

    def execute(self, settings: Settings, *, echo: bool = False) -> Result:
        """Evaluate the run (the worker holds this task's lock); the result, also written."""
        lines: list[str] = []
        run_dir = Path(self.run_path)

        def log(message: str) -> None:
            lines.append(message)
            if echo:
                print(f"robustness {message}", flush=True)
            if run_dir.is_dir():
                records.log_line(run_dir, f"robustness {message}")

        started = time.time()
        details: dict[str, Any] = {"id": self.id, "run_id": self.job.id, "evaluated": [], "skipped": []}
        error = None
        try:
            outcome = evaluate_run(run_dir, self.config, settings, force=self.force, log=log)
            details.update(evaluated=outcome.evaluated, skipped=outcome.skipped)
        except BenchError as exc:
            error = str(exc)
        except Exception as exc:  # a bug: the traceback goes to the run's log, the other runs go on
            log("error:\n" + traceback.format_exc())
            error = f"{type(exc).__name__}: {exc} (traceback in {run_dir / records.LOG})"
        result = Result(
            id=self.id,
            status="error" if error else "ok",
            error=error,
            suite=self.suite,
            label=self.method,
            wall_seconds=round(time.time() - started, 3),
        )
        safe_io.write_json(self.run_dir() / DETAILS, {**details, "lines": lines})
        records.write_result(self.run_dir(), result)
        return result


def read_details(task: EvaluationJob) -> dict[str, Any]:
    """What the task's last run evaluated and logged ({} if it wrote nothing)."""
    try:
        data = json.loads((task.run_dir() / DETAILS).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("id") == task.id else {}


@dataclass
class EvaluationSummary:
    tasks: list[EvaluationJob]
    stored: list[tuple[Job, Path]]  # runs whose store already held everything asked for
    results: list[Result]
    submitted: bool  # queued on a cluster and not waited for

    @property
    def failures(self) -> dict[Path, str]:
        """run folder -> error, for the evaluations that failed."""
        by_id = {t.id: t for t in self.tasks}
        return {
            Path(by_id[r.id].run_path): str(r.error or "failed without a message")
            for r in self.results
            if not r.ok and r.id in by_id
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
    results: list[Result] = []
    if tasks:
        module.check(tasks, settings)
        for task in tasks:
            _clear(task)
        results = module.run(tasks, settings, events)
    submitted = bool(tasks) and name == "slurm" and not settings.slurm.wait
    return EvaluationSummary(tasks, stored, results, submitted)


def _clear(task: EvaluationJob) -> None:
    """Drop the result of an earlier evaluation of this task, so that it runs again."""
    locks.drop_result(task.prepare())
