"""The one way a job runs, whatever the executor: take the job's lock, then train.

`execute` is called in-process by the inline executor and by each Slurm array task, and by
`bench _worker RUN_DIR` (`main`), the process the local executor starts per job. It

1. takes the job folder's lock (bench/locks.py), or reports the job as running elsewhere;
2. checks the folder again: another process may have finished the job since the caller looked
   (records that do not agree with each other do not count as finished: bench/records.py);
3. clears what a previous attempt left that would now be misleading (an error record, a result
   its other records contradict, a Slurm submission marker);
4. trains: in this process for a one-GPU job, or as one process per GPU (bench/executors/launch.py).

The exit codes of `main` tell the local executor what happened without reading any file, the
full disk included (its result cannot be written then). `main` dies with the process that
started it (bench/signals.py), so a killed `bench run` leaves no worker training.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import locks, records, safe_io, schema, signals
from bench.errors import BenchError
from bench.job import Job
from bench.records import Result
from bench.settings import Settings

OK, FAILED, BUSY, DONE_ELSEWHERE = 0, 1, 75, 76  # 75: EX_TEMPFAIL, "try again later"
NO_SPACE = 77  # the job failed on a full disk and its result could not be written
SUBMITTED = records.SUBMITTED  # written by the Slurm executor while a job waits in the queue
EVALUATION_FOLDER = "evaluation"  # an EvaluationJob's folder, inside the run folder it evaluates


@dataclass
class Outcome:
    code: int  # OK, FAILED, BUSY, DONE_ELSEWHERE or NO_SPACE
    record: Result | None = None  # the result (OK, FAILED, DONE_ELSEWHERE, NO_SPACE)
    reason: str = ""  # why it did not run here (BUSY, DONE_ELSEWHERE)


def execute(job: Job, settings: Settings, *, echo: bool = False, on_epoch: Any = None) -> Outcome:
    """Run `job` under its folder's lock; never two processes on one job. A run folder bench
    cannot write safely (a record that is a link or a folder, a full disk) is the job's error."""
    if not isinstance(job, Job):  # an evaluation of a finished run (bench/evaluate/task.py)
        return _evaluation(job, settings, echo)
    claimed = _claim(job, settings)
    if isinstance(claimed, Outcome):
        return claimed
    run_dir, lock = claimed
    try:
        finished = records.read_run(run_dir, job)
        if finished.done:
            return Outcome(DONE_ELSEWHERE, finished.result, "finished by another process")
        for name in records.WRITTEN:  # a link or a folder among them is the user's to remove, not ours
            safe_io.check_writable_target(run_dir / name)
        # A failed attempt's record, or one its other records contradict: this attempt replaces it.
        records.remove(run_dir, records.RESULT, records.SUBMITTED)
        if job.gpus > 1:
            from bench.executors import launch

            result = launch.run(job, settings, run_dir)
        else:
            from bench.train import run_job

            result = run_job(job, settings, echo=echo, on_epoch=on_epoch)
    except BenchError as exc:
        return refused(job, exc)
    finally:
        lock.release()
    if result.ok:
        return Outcome(OK, result)
    return Outcome(NO_SPACE if safe_io.says_full(result.error) else FAILED, result)


def _evaluation(task: Any, settings: Settings, echo: bool) -> Outcome:
    """An EvaluationJob, under its own folder's lock like a training job (two evaluations of one
    run never run at once); the numbers go to the run folder's robustness.json."""
    claimed = _claim(task, settings)
    if isinstance(claimed, Outcome):
        return claimed
    folder, lock = claimed
    try:
        records.remove(folder, records.RESULT, records.SUBMITTED)
        result = task.execute(settings, echo=echo)
    finally:
        lock.release()
    return Outcome(OK if result.ok else FAILED, result)


def _claim(job: Any, settings: Settings) -> tuple[Path, locks.JobLock] | Outcome:
    """The job's folder, prepared and locked by this process (the caller releases the lock), or
    the Outcome that says why not: refused (a folder bench cannot write) or busy elsewhere."""
    try:
        folder = records.prepare(job, settings.runs_root)
        lock = locks.JobLock(folder)
        acquired = lock.acquire()
    except (BenchError, OSError) as exc:  # UnsafePath, NoSpace, a folder bench may not write
        return refused(job, exc)
    if not acquired:
        holder = locks.probe(folder)
        return Outcome(
            BUSY, reason=f"running in another process ({holder.describe() if holder else 'just now'})"
        )
    return folder, lock


def load(run_dir: Path) -> Any:
    """What a worker runs, from the folder's spec.json: a training Job, or an EvaluationJob."""
    if run_dir.name == EVALUATION_FOLDER:
        from bench.evaluate.task import EvaluationJob

        return EvaluationJob.load(run_dir)
    return records.read_spec(run_dir)


def refused(job: Job, exc: Exception) -> Outcome:
    """The outcome of a job whose folder cannot be written: an error result, kept in memory only."""
    if safe_io.is_full(exc):
        exc = safe_io.NoSpace(getattr(exc, "filename", None) or f"the run folder of job {job.id}", exc)  # type: ignore[arg-type]
    message = str(exc) if isinstance(exc, BenchError) else f"{type(exc).__name__}: {exc}"
    result = Result(id=job.id, suite=job.suite, label=job.method, status="error", error=message)
    code = NO_SPACE if isinstance(exc, safe_io.NoSpace) else FAILED
    return Outcome(code, result)


def main(run_dir: str) -> int:
    """`python -m bench _worker RUN_DIR`: the process the local executor starts for one job."""
    signals.die_with_parent()
    settings = schema.build(Settings, json.loads(os.environ["BENCH_SETTINGS_JSON"]))
    job = load(Path(run_dir))
    threads = os.environ.get("BENCH_THREADS")
    if threads and job.gpus == 1:  # ranks of a multi-GPU job set their own
        import torch

        torch.set_num_threads(int(threads))
    outcome = execute(job, settings, echo=True)
    if outcome.code in (FAILED, NO_SPACE) and outcome.record is not None:
        print(
            f"error: {outcome.record.error}", flush=True
        )  # to worker.log, when the result could not be written
    return outcome.code


# --- records for processes that died without writing one ----------------------------------------


def exit_description(code: int) -> str:
    """'was killed by SIGKILL' or 'exited with code 3', from a Popen return code."""
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return "(no log)"


def failure_record(job: Job, run_dir: Path, what: str, started: float, log: Path) -> Result:
    """The error result of a job whose process died: what died, how far it got, its log's end."""
    if isinstance(job, Job):
        epochs = records.count_metrics(run_dir)
        lost = f"after epoch {epochs}/{job.recipe.epochs} without writing its result; run again to resume from its last checkpoint"
    else:
        lost = "without writing its result; run again (every evaluation it stored is kept)"
    return Result(
        id=job.id,
        suite=job.suite,
        label=job.method,
        status="error",
        error=f"{what} {lost}. Last lines of {log}:\n{tail(log)}",
        wall_seconds=round(time.time() - started, 3),
    )


def no_space_record(job: Job, run_dir: Path, started: float) -> Result:
    """The error result of a job whose worker stopped on a full disk (its result is not on disk)."""
    return Result(
        id=job.id,
        suite=job.suite,
        label=job.method,
        status="error",
        error=str(safe_io.NoSpace(run_dir)),
        wall_seconds=round(time.time() - started, 3),
    )


def record_if_free(job: Job, run_dir: Path, record: Result) -> bool:
    """Write `record` as the job's result unless another process has taken the job over since.
    A write that fails (a full disk, an unsafe file) is not raised: the caller still reports it."""
    lock = locks.JobLock(run_dir)
    try:
        if not lock.acquire():
            return False
        if isinstance(job, Job) and records.is_finished(run_dir, job):
            return False
        written = records.read_result(run_dir)
        if not isinstance(job, Job) and isinstance(written, Result) and written.id == job.id and written.ok:
            return False
        records.write_result(run_dir, record)
        return True
    except (OSError, BenchError):
        return False
    finally:
        lock.release()
