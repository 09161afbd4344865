"""One worker process per job on this machine, packed onto the visible GPUs by their GPU count.

The machine's capacity is its visible GPUs, each shared by up to `jobs_per_gpu` one-GPU jobs, or,
without a GPU, `cpu_workers` slots that share the cores. A job asking for k GPUs
(`resources.gpus`) needs k whole GPUs (k CPU slots without a GPU) and sees only those through
CUDA_VISIBLE_DEVICES; one-GPU jobs fill partly used GPUs first, which keeps whole GPUs free for
multi-GPU jobs. Jobs are started largest first, and whenever capacity frees up every waiting job
that fits starts at once: a worker's exit wakes the scheduler immediately (no polling delay),
so the scheduler adds no idle time between jobs.

Each worker is `python -m bench _worker RUN_DIR` (bench/executors/worker.py), which takes the
job's lock. A worker that dies without writing its result (killed, out of memory) gets an error
record built from its exit status and the end of its log, and the other jobs go on; one that
stopped on a full disk gets "no space left on <its folder>". Workers die with this process
(bench/signals.py): a `bench run` stopped in any way leaves no worker training.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from bench import locks, records, safe_io, schema, signals
from bench.errors import BenchError
from bench.executors import worker
from bench.executors.events import Events
from bench.executors.launch import bench_pythonpath, stop
from bench.job import Job
from bench.records import Result
from bench.runtime import cpu_job_threads
from bench.settings import Settings

POLL_SECONDS = 0.5  # how often running jobs' progress (finished epochs) is reported
WORKER_LOG = records.WORKER_LOG


@dataclass
class Placement:
    gpus: list[str]  # the GPU ids the job sees ([] on a CPU-only machine)
    cpu_slots: int
    env: dict[str, str]


@dataclass
class Pool:
    """What is free on this machine: shares of each visible GPU, or CPU worker slots."""

    gpus: list[str]
    jobs_per_gpu: int
    cpu_slots: int
    threads: int  # torch threads per process; 0: torch's default
    free_shares: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.free_shares = dict.fromkeys(self.gpus, self.jobs_per_gpu)

    @classmethod
    def of_machine(cls, settings: Settings) -> Pool:
        run = settings.run
        gpus = _visible_gpus() if run.device != "cpu" else []
        if gpus:
            return cls(gpus, run.jobs_per_gpu, 0, run.threads_per_job)
        return cls([], 1, run.cpu_workers, cpu_job_threads(run))

    def capacity(self) -> tuple[int, str]:
        """The most GPUs (or CPU processes) one job can get here, and what they are."""
        if self.gpus:
            return len(self.gpus), f"GPUs are visible (CUDA_VISIBLE_DEVICES={','.join(self.gpus)})"
        return self.cpu_slots, "CPU worker slots exist (cpu_workers in bench.toml, or --workers)"

    def take(self, n: int) -> Placement | None:
        if not self.gpus:
            if self.cpu_slots < n:
                return None
            self.cpu_slots -= n
            env = {"CUDA_VISIBLE_DEVICES": "", "BENCH_THREADS": str(self.threads)}
            return Placement([], n, env)
        if n == 1:
            partly_free = [g for g in self.gpus if self.free_shares[g] > 0]
            if not partly_free:
                return None
            chosen = [min(partly_free, key=lambda g: self.free_shares[g])]  # pack: fullest first
            self.free_shares[chosen[0]] -= 1
        else:
            whole = [g for g in self.gpus if self.free_shares[g] == self.jobs_per_gpu]
            if len(whole) < n:
                return None
            chosen = whole[:n]
            for g in chosen:
                self.free_shares[g] = 0
        env = {"CUDA_VISIBLE_DEVICES": ",".join(chosen)}
        if self.threads:
            env["BENCH_THREADS"] = str(self.threads)
        return Placement(chosen, 0, env)

    def give_back(self, placement: Placement) -> None:
        self.cpu_slots += placement.cpu_slots
        share = 1 if len(placement.gpus) == 1 else self.jobs_per_gpu
        for g in placement.gpus:
            self.free_shares[g] += share


def _visible_gpus() -> list[str]:
    declared = os.environ.get("CUDA_VISIBLE_DEVICES")
    if declared is not None:
        return [g.strip() for g in declared.split(",") if g.strip() and g.strip() != "-1"]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except Exception:
        return []


def check(jobs: list[Job], settings: Settings) -> None:
    """Every job fits on this machine; otherwise one error with the numbers, before anything starts."""
    capacity, what = Pool.of_machine(settings).capacity()
    too_big = [j for j in jobs if j.gpus > capacity]
    if too_big:
        shown = "; ".join(f"{j.label} asks for {j.gpus}" for j in too_big[:5])
        more = f" and {len(too_big) - 5} more" if len(too_big) > 5 else ""
        raise BenchError(
            f"{len(too_big)} job(s) ask for more GPUs than this machine can give one job: {shown}{more}; "
            f"only {capacity} {what}. Lower resources.gpus in the suite, or run it where a node has more."
        )


@dataclass
class _Running:
    job: Job
    process: subprocess.Popen
    placement: Placement
    started: float
    epochs_seen: int = 0


def run(jobs: list[Job], settings: Settings, events: Events) -> list[Result]:
    check(jobs, settings)  # a job that can never fit would otherwise wait forever
    pool = Pool.of_machine(settings)
    waiting = sorted(jobs, key=lambda j: -j.gpus)  # largest first; stable within a size
    running: dict[int, _Running] = {}
    exits: queue.Queue[int] = queue.Queue()
    results: dict[str, Result] = {}
    settings_json = json.dumps(schema.to_plain(settings))
    try:
        while waiting or running:
            for job in list(waiting):
                placement = pool.take(job.gpus)
                if placement is None:
                    continue
                waiting.remove(job)
                holder = locks.probe(job.run_dir(settings.runs_root))
                if holder is not None:  # a cheap pre-check; the worker's own lock is the guarantee
                    pool.give_back(placement)
                    events.skipped(job, f"running in another process ({holder.describe()})")
                    continue
                try:
                    process = _start(job, settings, settings_json, placement.env)
                except (BenchError, OSError) as exc:  # its folder cannot be written (a full disk, a link)
                    pool.give_back(placement)
                    outcome = worker.refused(job, exc).record
                    results[job.id] = outcome
                    events.started(job)
                    events.finished(job, outcome)
                    continue
                running[process.pid] = _Running(job, process, placement, time.time())
                threading.Thread(target=_report_exit, args=(process, exits), daemon=True).start()
                events.started(job)
            try:
                finished = [exits.get(timeout=POLL_SECONDS)]
                while not exits.empty():
                    finished.append(exits.get_nowait())
            except queue.Empty:
                finished = []
            for item in running.values():
                _report_epochs(item, settings, events)
            for pid in finished:
                item = running.pop(pid)
                pool.give_back(item.placement)
                _report_epochs(item, settings, events)
                record = _collect(item, settings, events)
                if record is not None:
                    results[item.job.id] = record
                    events.finished(item.job, record)
    finally:
        stop([item.process for item in running.values()])  # interrupted: checkpoints let the next run resume
    return [results[j.id] for j in jobs if j.id in results]


def _report_exit(process: subprocess.Popen, exits: queue.Queue) -> None:
    process.wait()
    exits.put(process.pid)


def _start(job: Job, settings: Settings, settings_json: str, slot_env: dict[str, str]) -> subprocess.Popen:
    run_dir = records.prepare(job, settings.runs_root)  # spec.json: what the worker reads
    env = {
        **os.environ,
        **slot_env,
        "BENCH_SETTINGS_JSON": settings_json,
        "PYTHONPATH": bench_pythonpath(),
        signals.PARENT_ENV: str(os.getpid()),  # the worker dies with this process
    }
    log = safe_io.append_binary(run_dir / WORKER_LOG)
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "bench", "_worker", str(run_dir)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    finally:
        log.close()


def _report_epochs(item: _Running, settings: Settings, events: Events) -> None:
    epochs = records.count_metrics(item.job.run_dir(settings.runs_root))
    while item.epochs_seen < epochs:
        item.epochs_seen += 1
        events.epoch(item.job, item.epochs_seen)


def _collect(item: _Running, settings: Settings, events: Events) -> Result | None:
    """The job's record after its worker exited, or None if it did not run here."""
    code = item.process.returncode
    run_dir = item.job.run_dir(settings.runs_root)
    if code == worker.BUSY:
        events.skipped(item.job, "running in another process")
        return None
    if code == worker.DONE_ELSEWHERE:
        events.skipped(item.job, "finished by another process")
        return None
    record = records.read_result(run_dir)
    if (
        code in (worker.OK, worker.FAILED, worker.NO_SPACE)
        and isinstance(record, Result)
        and record.id == item.job.id
    ):
        return record
    if code == worker.NO_SPACE:
        return worker.no_space_record(item.job, run_dir, item.started)
    record = worker.failure_record(
        item.job, run_dir, f"its worker {worker.exit_description(code)}", item.started, run_dir / WORKER_LOG
    )
    worker.record_if_free(item.job, run_dir, record)
    return record
