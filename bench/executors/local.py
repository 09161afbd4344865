"""One worker process per job on this machine, as many at once as there are slots.

Slots are the visible GPUs (times `jobs_per_gpu`), each worker seeing only its GPU through
CUDA_VISIBLE_DEVICES; without a GPU, `cpu_workers` slots that share the cores. A worker that
dies without writing its result (killed, out of memory) gets an error record built from its
exit code and the end of its log, and the other jobs go on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bench
from bench import results, schema
from bench.executors.events import Events
from bench.job import Job
from bench.settings import Settings

POLL_SECONDS = 0.2
WORKER_LOG = "worker.log"


@dataclass
class _Running:
    job: Job
    process: subprocess.Popen
    slot: int
    started: float
    epochs_seen: int = 0


def slots(settings: Settings) -> list[dict[str, str]]:
    """The environment of each slot: one per GPU (times jobs_per_gpu), else cpu_workers."""
    gpus = _visible_gpus()
    if gpus and settings.run.device != "cpu":
        return [{"CUDA_VISIBLE_DEVICES": g} for g in gpus for _ in range(settings.run.jobs_per_gpu)]
    workers = settings.run.cpu_workers
    threads = settings.run.threads_per_job or max(1, (os.cpu_count() or 1) // workers)
    return [{"CUDA_VISIBLE_DEVICES": "", "BENCH_THREADS": str(threads)} for _ in range(workers)]


def _visible_gpus() -> list[str]:
    declared = os.environ.get("CUDA_VISIBLE_DEVICES")
    if declared is not None:
        return [g for g in declared.split(",") if g.strip() and g.strip() != "-1"]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except Exception:
        return []


def run(jobs: list[Job], settings: Settings, events: Events) -> list[dict[str, Any]]:
    slot_envs = slots(settings)
    queue = deque(jobs)
    free = list(range(len(slot_envs)))
    running: list[_Running] = []
    records: dict[str, dict[str, Any]] = {}
    settings_json = json.dumps(schema.to_plain(settings))
    try:
        while queue or running:
            while queue and free:
                job = queue.popleft()
                slot = free.pop(0)
                running.append(
                    _Running(job, _start(job, settings, settings_json, slot_envs[slot]), slot, time.time())
                )
                events.started(job)
            time.sleep(POLL_SECONDS)
            for item in list(running):
                _report_epochs(item, settings, events)
                if item.process.poll() is None:
                    continue
                running.remove(item)
                free.append(item.slot)
                record = _collect(item, settings)
                records[item.job.id] = record
                events.finished(item.job, record)
    finally:
        for item in running:  # interrupted: stop workers; their checkpoints let the next run resume
            item.process.terminate()
        for item in running:
            item.process.wait()
    return [records[j.id] for j in jobs if j.id in records]


def _start(job: Job, settings: Settings, settings_json: str, slot_env: dict[str, str]) -> subprocess.Popen:
    run_dir = job.run_dir(settings.runs_root)
    run_dir.mkdir(parents=True, exist_ok=True)
    results.write_json(run_dir / results.SPEC, job.to_record())
    (run_dir / results.RESULT).unlink(missing_ok=True)  # any result after exit is this worker's
    # Workers import the same `bench` as this process, installed or not.
    package_root = str(Path(bench.__file__).resolve().parent.parent)
    pythonpath = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, **slot_env, "BENCH_SETTINGS_JSON": settings_json, "PYTHONPATH": pythonpath}
    log = (run_dir / WORKER_LOG).open("ab")
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
    metrics = item.job.run_dir(settings.runs_root) / results.METRICS
    try:
        epochs = sum(1 for _ in metrics.open())
    except FileNotFoundError:
        return
    while item.epochs_seen < epochs:
        item.epochs_seen += 1
        events.epoch(item.job, item.epochs_seen)


def _collect(item: _Running, settings: Settings) -> dict[str, Any]:
    run_dir = item.job.run_dir(settings.runs_root)
    record = results.read_result(run_dir)
    if record and record.get("id") == item.job.id:
        return record
    tail = _tail(run_dir / WORKER_LOG)
    record = {
        "id": item.job.id,
        "suite": item.job.suite,
        "label": item.job.method,
        "status": "error",
        "error": f"worker exited with code {item.process.returncode} before writing its result; last log lines:\n{tail}",
        "wall_seconds": round(time.time() - item.started, 3),
    }
    results.write_json(run_dir / results.RESULT, record)
    return record


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def worker_main(run_dir: str) -> int:
    """Entry point of a worker process: `python -m bench _worker RUN_DIR`."""
    from bench.train import run_job

    threads = os.environ.get("BENCH_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    settings = schema.build(Settings, json.loads(os.environ["BENCH_SETTINGS_JSON"]))
    job = Job.from_record(results.read_json(Path(run_dir) / results.SPEC))
    record = run_job(job, settings, echo=True)
    return 0 if record["status"] == "ok" else 1
