"""Every job's state, read from its run folder alone, so it reads the same for every executor.

| state       | when                                                                        |
|-------------|-----------------------------------------------------------------------------|
| done        | result.json says ok, for this job's id, and the other records agree with it   |
| running     | a process holds the job's lock (bench/locks.py): flock, or a fresh heartbeat  |
| error       | result.json says error (its message, and the log with the traceback)        |
| queued      | submitted to Slurm (submitted.json) and not started since                   |
| interrupted | epochs were completed, then the process stopped; or the records do not agree  |
|             | (a torn metrics line, a cut checkpoint, an unreadable result.json): a re-run  |
|             | resumes from the checkpoint, or retrains if the checkpoint is unusable       |
| pending     | nothing has happened yet                                                    |

The checks run in that order: a job re-run after an error is `running`, not `error`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bench import locks, records
from bench.job import Job

STATES = ("done", "running", "error", "queued", "interrupted", "pending")
LOGS = (records.LOG, records.WORKER_LOG, "slurm.out")  # the first that exists is shown


@dataclass(frozen=True)
class JobState:
    job: Job
    state: str
    epochs: int  # completed epochs
    detail: str  # final top-1, who runs it, the error's first line, the array task...
    log: Path | None


def _log(run_dir: Path, shown: Path) -> Path | None:
    """The job's log, under `shown` (the suite's view of the folder, where it leads there)."""
    name = next((name for name in LOGS if (run_dir / name).is_file()), None)
    return None if name is None else shown / name


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _last_activity(run_dir: Path) -> float:
    return max(_mtime(run_dir / records.LOG), _mtime(run_dir / locks.LOCK))


def job_state(job: Job, runs_root: Path) -> JobState:
    run_dir = records.locate(job, runs_root)
    run = records.read_run(run_dir, job)
    view = records.view_dir(job, runs_root)
    shown = view if view.is_symlink() and view.resolve() == run_dir.resolve() else run_dir
    epochs = len(run.metrics)
    if run.state == "done":
        final = run.result.final() if run.result else None
        detail = f"final top-1 ({final[0]}) {final[1]:.2f}" if final else ""
        return JobState(job, "done", epochs, detail, _log(run_dir, shown))
    if not run_dir.exists():
        return JobState(job, "pending", 0, "", None)
    holder = locks.probe(run_dir)
    if holder is not None:
        return JobState(job, "running", epochs, holder.describe(), _log(run_dir, shown))
    if run.state == "error" and run.result is not None:
        return JobState(job, "error", epochs, run.result.first_line, _log(run_dir, shown))
    marker = records.read_submitted(run_dir)
    submitted = run_dir / records.SUBMITTED
    # Queued unless the job has started since; mtimes, as on a shared filesystem they share a clock.
    if marker and _mtime(submitted) >= _last_activity(run_dir):
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(_mtime(submitted)))
        return JobState(job, "queued", epochs, f"Slurm task {marker.get('job_id')}, submitted {when}", None)
    if run.problem is not None:
        detail = f"records not trusted: {run.problem}; a re-run resumes it (or retrains it)"
        return JobState(job, "interrupted", epochs, detail, _log(run_dir, shown))
    if run.state == "interrupted":
        return JobState(
            job, "interrupted", epochs, "stopped; a re-run resumes after its last epoch", _log(run_dir, shown)
        )
    return JobState(job, "pending", 0, "", _log(run_dir, shown))


def suite_states(jobs: list[Job], runs_root: Path) -> list[JobState]:
    return [job_state(job, runs_root) for job in jobs]
