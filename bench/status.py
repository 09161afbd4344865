"""Every job's state, read from its run folder alone, so it reads the same for every executor.

| state       | when                                                                      |
|-------------|---------------------------------------------------------------------------|
| done        | result.json says ok, for this job's id                                     |
| running     | a process holds the job's lock (bench/locks.py): flock, or a fresh heartbeat |
| error       | result.json says error (its message, and the log with the traceback)      |
| queued      | submitted to Slurm (submitted.json) and not started since                 |
| interrupted | epochs were completed, then the process stopped: a re-run resumes         |
| pending     | nothing has happened yet                                                  |

The checks run in that order: a job re-run after an error is `running`, not `error`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bench import locks, results
from bench.executors.worker import SUBMITTED
from bench.job import Job

STATES = ("done", "running", "error", "queued", "interrupted", "pending")
LOGS = (results.LOG, "worker.log", "slurm.out")  # the first that exists is shown


@dataclass(frozen=True)
class JobState:
    job: Job
    state: str
    epochs: int  # completed epochs
    detail: str  # final top-1, who runs it, the error's first line, the array task...
    log: Path | None


def _epochs(run_dir: Path) -> int:
    try:
        with (run_dir / results.METRICS).open() as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def _log(run_dir: Path) -> Path | None:
    return next((run_dir / name for name in LOGS if (run_dir / name).exists()), None)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _last_activity(run_dir: Path) -> float:
    return max(_mtime(run_dir / results.LOG), _mtime(run_dir / locks.LOCK))


def job_state(job: Job, runs_root: Path) -> JobState:
    run_dir = job.run_dir(runs_root)
    total = job.recipe.epochs
    record = results.read_result(run_dir)
    if record and record.get("id") == job.id and record.get("status") == "ok":
        network = str(record.get("primary_network", "online")).split("|")[0]
        final = record.get("metrics", {}).get(network, {}).get("final")
        detail = f"final top-1 ({network}) {final:.2f}" if final is not None else ""
        return JobState(job, "done", record.get("epochs_completed", total), detail, _log(run_dir))
    if not run_dir.exists():
        return JobState(job, "pending", 0, "", None)
    epochs = _epochs(run_dir)
    holder = locks.probe(run_dir)
    if holder is not None:
        return JobState(job, "running", epochs, holder.describe(), _log(run_dir))
    if record and record.get("id") == job.id:
        message = str(record.get("error") or "failed without a message").splitlines()[0]
        return JobState(job, "error", epochs, message, _log(run_dir))
    marker = results.read_json(run_dir / SUBMITTED)
    # Queued unless the job has started since; mtimes, as on a shared filesystem they share a clock.
    if marker and _mtime(run_dir / SUBMITTED) >= _last_activity(run_dir):
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(_mtime(run_dir / SUBMITTED)))
        return JobState(job, "queued", epochs, f"Slurm task {marker.get('job_id')}, submitted {when}", None)
    if epochs or (run_dir / results.CHECKPOINT).exists() or (run_dir / results.LOG).exists():
        return JobState(
            job, "interrupted", epochs, "stopped; a re-run resumes after its last epoch", _log(run_dir)
        )
    return JobState(job, "pending", 0, "", _log(run_dir))


def suite_states(jobs: list[Job], runs_root: Path) -> list[JobState]:
    return [job_state(job, runs_root) for job in jobs]
