"""Slurm through submitit: one job array per `bench run`, one array task per pending job.

Each task runs the same worker entry point as the local executor (bench/executors/worker.py)
on one job folder: it takes the job's lock, trains (one process per GPU for a multi-GPU job) and
writes the records there. Tasks are checkpointable: Slurm signals a task `signal_delay_s` before
its time limit (and on preemption), submitit asks `SlurmTask.checkpoint` what to run next, which is
the same task again, and requeues it; the requeued task resumes from the job's last completed
epoch (`last.pt`). The partial epoch is lost: checkpoints are written at epoch ends only, because
resuming mid-epoch exactly would also need the position in the epoch's shuffled order and the
augmentation generator's state at that step, for a saving of at most one epoch per requeue.

An array shares one resource request, so jobs are grouped by their GPU count (`resources.gpus`):
usually that is one array. `bench run` submits and returns, printing the array id and how to
watch it; with `--wait` (or `[slurm] wait = true`) it waits, reading the run folders, and writes
the leaderboard. `bench status SUITE` shows the jobs' states from the run folders either way.

submitit is an optional dependency: `pip install 'mixup-bench[slurm]'`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import locks, records, schema
from bench.errors import BenchError, ConfigError, did_you_mean
from bench.executors import worker
from bench.executors.events import Events
from bench.executors.launch import bench_pythonpath
from bench.job import Job
from bench.records import Result
from bench.settings import CONFIG_NAME, Settings

TERMINAL_STATES = {
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "BOOT_FAIL",
    "DEADLINE",
}


def check(jobs: list[Job], settings: Settings) -> None:
    """Every job fits on one node (a multi-GPU job is one task on one node)."""
    if settings.run.device == "cpu":
        return
    limit = settings.slurm.gpus_per_node
    too_big = [j for j in jobs if j.gpus > limit]
    if too_big:
        shown = "; ".join(f"{j.label} asks for {j.gpus}" for j in too_big[:5])
        raise BenchError(
            f"{len(too_big)} job(s) ask for more GPUs than a node has: {shown}; [slurm] gpus_per_node is "
            f"{limit}. Lower resources.gpus in the suite, or raise gpus_per_node if the nodes have more."
        )


class SlurmTask:
    """The function of every array task: run one job folder. Picklable, and checkpointable by
    submitit (it calls `checkpoint` on the requeue signal)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings

    def __call__(self, run_dir: str) -> str:
        settings = schema.build(Settings, self.settings)
        job = worker.load(Path(run_dir))
        _link_slurm_logs(Path(run_dir))
        cpus = int(os.environ.get("SLURM_CPUS_PER_TASK", "0"))
        if cpus:  # torch would otherwise use every core of the node, not the task's share
            os.environ["BENCH_THREADS"] = str(max(1, cpus // job.gpus))
            if job.gpus == 1:
                import torch

                torch.set_num_threads(cpus)
        outcome = worker.execute(job, settings, echo=True)
        return outcome.reason or (outcome.record.status if outcome.record else "")

    def checkpoint(self, run_dir: str) -> Any:
        """Requeue the same task: the job's own checkpoint (its last completed epoch) is on disk."""
        from submitit.helpers import DelayedSubmission

        print(f"bench: requeued; {run_dir} resumes from its last completed epoch", flush=True)
        return DelayedSubmission(self, run_dir)


def _link_slurm_logs(run_dir: Path) -> None:
    """slurm.out / slurm.err in the run folder point at this task's stdout and stderr files."""
    from submitit import JobEnvironment

    paths = JobEnvironment().paths
    for name, target in (("slurm.out", paths.stdout), ("slurm.err", paths.stderr)):
        tmp = run_dir / f".{name}.tmp"
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(target)
            os.replace(tmp, run_dir / name)


def _submitit() -> Any:
    try:
        import submitit
    except ImportError:
        raise BenchError(
            "the slurm executor needs submitit: pip install 'mixup-bench[slurm]' (or pip install submitit)"
        ) from None
    return submitit


def sbatch_options() -> set[str]:
    """The long options this cluster's sbatch accepts, from `sbatch --help` (empty if unknown)."""
    try:
        text = subprocess.run(["sbatch", "--help"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    return set(re.findall(r"--([a-z][a-z0-9-]*)", text))


def _check_extra(settings: Settings) -> dict[str, Any]:
    """[slurm] extra as sbatch options; a name sbatch does not know is rejected before submitting."""
    extra = {key.replace("_", "-"): value for key, value in settings.slurm.extra.items()}
    known = sbatch_options()
    for key in extra:
        if known and key not in known:
            raise ConfigError(
                f"sbatch has no option --{key}{did_you_mean(key, known)}; valid (from sbatch --help): "
                f"{', '.join(sorted(known))}",
                file=str(settings.resolve(CONFIG_NAME)),
                key=f"slurm.extra.{key}",
            )
    return extra


def parameters(settings: Settings, gpus: int, suite: str) -> dict[str, Any]:
    """submitit SlurmExecutor parameters for an array of jobs that each need `gpus` GPUs."""
    s = settings.slurm
    on_gpu = settings.run.device != "cpu"
    params: dict[str, Any] = {
        "job_name": f"bench-{suite}",
        "time": s.time_minutes,
        "nodes": 1,
        "ntasks_per_node": 1,  # the task starts one process per GPU itself
        "cpus_per_task": s.cpus_per_gpu * gpus,
        "mem": f"{round(s.mem_gb_per_gpu * gpus * 1024)}MB",
        "array_parallelism": s.array_parallelism,
        "signal_delay_s": s.signal_delay_s,
        "setup": [f"export PYTHONPATH={shlex.quote(bench_pythonpath())}", *s.setup],
        "additional_parameters": _check_extra(settings),
    }
    if on_gpu:
        params["gpus_per_node"] = gpus
    for key in ("partition", "account", "qos"):
        if getattr(s, key):
            params[key] = getattr(s, key)
    return params


def run(jobs: list[Job], settings: Settings, events: Events) -> list[Result]:
    submitit = _submitit()
    submitted: list[tuple[Job, Any]] = []
    by_gpus = itertools.groupby(sorted(jobs, key=lambda j: j.gpus), key=lambda j: j.gpus)
    for gpus, group in by_gpus:
        group = list(group)
        params = parameters(settings, gpus, group[0].suite)
        try:
            executor = submitit.SlurmExecutor(  # %j: a folder per task (Slurm's own pattern for arrays too)
                folder=settings.slurm_folder / "%j", max_num_timeout=settings.slurm.max_requeues
            )
            executor.update_parameters(**params)
        except (RuntimeError, ValueError) as exc:
            raise BenchError(f"slurm executor: {exc}") from None
        run_dirs = [_prepare(job, settings) for job in group]
        task = SlurmTask(schema.to_plain(settings))
        try:
            tasks = executor.map_array(task, [str(d) for d in run_dirs])
        except Exception as exc:  # sbatch refused: wrong partition, account, limits ...
            raise BenchError(f"sbatch refused the array: {exc}") from None
        array = tasks[0].job_id.split("_")[0]
        for job, run_dir, task_handle in zip(group, run_dirs, tasks):
            marker = {"executor": "slurm", "job_id": task_handle.job_id, "submitted": time.time()}
            records.write_submitted(run_dir, marker)
            submitted.append((job, task_handle))
        kind = "array" if len(group) > 1 else "job"  # submitit submits a lone task as a plain job
        events.info(
            f"submitted {len(group)} job(s) needing {gpus} GPU(s) each as Slurm {kind} {array} "
            f"(submitit's files: {settings.slurm_folder / array}*); `squeue -j {array}` shows its tasks"
        )
    if not settings.slurm.wait:
        return []
    return _wait(submitted, settings, events)


def _prepare(job: Job, settings: Settings) -> Path:
    """Write spec.json (what the task reads) and drop a failed attempt's record, under the job's lock."""
    run_dir = records.prepare(job, settings.runs_root)
    locks.drop_result(run_dir)
    return run_dir


def _wait(submitted: list[tuple[Job, Any]], settings: Settings, events: Events) -> list[Result]:
    """Wait for every task, reading the run folders; a task that ended without a result gets one."""
    results: dict[str, Result] = {}
    remaining = dict((job.id, (job, task)) for job, task in submitted)
    started = time.time()
    while remaining:
        for job_id, (job, task) in list(remaining.items()):
            run_dir = job.run_dir(settings.runs_root)
            if locks.probe(run_dir) is not None:
                continue
            record = records.read_result(run_dir)
            if not (isinstance(record, Result) and record.id == job.id):
                state = _state(task)
                if state not in TERMINAL_STATES:
                    continue
                record = worker.failure_record(
                    job,
                    run_dir,
                    f"Slurm task {task.job_id} ended ({state})",
                    started,
                    Path(task.paths.stderr),
                )
                worker.record_if_free(job, run_dir, record)
            results[job_id] = record
            del remaining[job_id]
            events.finished(job, record)
        if remaining:
            time.sleep(settings.slurm.poll_seconds)
    return [results[job.id] for job, _ in submitted]


def _state(task: Any) -> str:
    """The task's Slurm state from sacct, which submitit asks for all tasks at once, at most every
    few minutes ('UNKNOWN' until sacct knows it; 'CANCELLED by 123' becomes 'CANCELLED')."""
    try:
        return str(task.state).split()[0].upper()
    except Exception:
        return "UNKNOWN"
