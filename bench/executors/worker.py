"""The one way a job runs, whatever the executor: take the job's lock, then train.

`execute` is called in-process by the inline executor and by each Slurm array task, and by
`bench _worker RUN_DIR` (`main`), the process the local executor starts per job. It

1. takes the job folder's lock (bench/locks.py), or reports the job as running elsewhere;
2. checks the folder again: another process may have finished the job since the caller looked;
3. clears what a previous attempt left that would now be misleading (an error record, a Slurm
   submission marker) and writes spec.json;
4. trains: in this process for a one-GPU job, or as one process per GPU (bench/executors/launch.py).

The exit codes of `main` tell the local executor what happened without reading any file.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import locks, results, schema
from bench.job import Job
from bench.settings import Settings

OK, FAILED, BUSY, DONE_ELSEWHERE = 0, 1, 75, 76  # 75: EX_TEMPFAIL, "try again later"
SUBMITTED = "submitted.json"  # written by the Slurm executor while a job waits in the queue


@dataclass
class Outcome:
    code: int  # OK, FAILED, BUSY or DONE_ELSEWHERE
    record: dict[str, Any] | None = None  # the result record (OK, FAILED, DONE_ELSEWHERE)
    reason: str = ""  # why it did not run here (BUSY, DONE_ELSEWHERE)


def execute(job: Job, settings: Settings, *, echo: bool = False, on_epoch: Any = None) -> Outcome:
    """Run `job` under its folder's lock; never two processes on one job."""
    run_dir = job.run_dir(settings.runs_root)
    lock = locks.JobLock(run_dir)
    if not lock.acquire():
        holder = locks.probe(run_dir)
        return Outcome(
            BUSY, reason=f"running in another process ({holder.describe() if holder else 'just now'})"
        )
    try:
        if results.is_finished(run_dir, job.id):
            return Outcome(DONE_ELSEWHERE, results.read_result(run_dir), "finished by another process")
        (run_dir / results.RESULT).unlink(missing_ok=True)  # a failed attempt's record: this one replaces it
        (run_dir / SUBMITTED).unlink(missing_ok=True)
        results.write_json(run_dir / results.SPEC, job.to_record())
        if not isinstance(job, Job):  # an evaluation of a finished run (bench/evaluate/task.py)
            record = job.execute(settings, echo=echo)
        elif job.gpus > 1:
            from bench.executors import launch

            record = launch.run(job, settings, run_dir)
        else:
            from bench.train import run_job

            record = run_job(job, settings, echo=echo, on_epoch=on_epoch)
        return Outcome(OK if record["status"] == "ok" else FAILED, record)
    finally:
        lock.release()


def load(run_dir: Path) -> Any:
    """What a worker runs, from the folder's spec.json: a training Job, or an EvaluationJob."""
    record = results.read_json(run_dir / results.SPEC)
    if record.get("kind") == "evaluation":
        from bench.evaluate.task import EvaluationJob

        return EvaluationJob.from_record(record)
    return Job.from_record(record)


def main(run_dir: str) -> int:
    """`python -m bench _worker RUN_DIR`: the process the local executor starts for one job."""
    settings = schema.build(Settings, json.loads(os.environ["BENCH_SETTINGS_JSON"]))
    job = load(Path(run_dir))
    threads = os.environ.get("BENCH_THREADS")
    if threads and job.gpus == 1:  # ranks of a multi-GPU job set their own
        import torch

        torch.set_num_threads(int(threads))
    return execute(job, settings, echo=True).code


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
    except FileNotFoundError:
        return "(no log)"


def failure_record(job: Job, run_dir: Path, what: str, started: float, log: Path) -> dict[str, Any]:
    """The error record of a job whose process died: what died, how far it got, its log's end."""
    if isinstance(job, Job):
        epochs = len(results.read_jsonl(run_dir / results.METRICS))
        lost = f"after epoch {epochs}/{job.recipe.epochs} without writing its result; run again to resume from its last checkpoint"
    else:
        lost = "without writing its result; run again (every evaluation it stored is kept)"
    return {
        "id": job.id,
        "suite": job.suite,
        "label": job.method,
        "status": "error",
        "error": f"{what} {lost}. Last lines of {log}:\n{tail(log)}",
        "wall_seconds": round(time.time() - started, 3),
    }


def record_if_free(job: Job, run_dir: Path, record: dict[str, Any]) -> bool:
    """Write `record` as the job's result unless another process has taken the job over since.
    A write that fails (a full disk) is not raised: the caller still reports the record."""
    lock = locks.JobLock(run_dir)
    try:
        if not lock.acquire():
            return False
        if results.is_finished(run_dir, job.id):
            return False
        results.write_json(run_dir / results.RESULT, record)
        return True
    except OSError:
        return False
    finally:
        lock.release()
