"""Start the rank processes of a multi-GPU job on this machine and supervise them.

The job's worker (the process holding the job's lock, on any executor) calls `run`: it starts
`python -m bench _rank RUN_DIR` once per GPU with the environment `torchrun --standalone` gives
(RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), and waits. When a
rank fails, the others are stopped at once (a collective would otherwise wait for the dead rank
until its timeout) and the job's record names the rank that failed first, with its log's tail.
Ranks die with the worker (PR_SET_PDEATHSIG), so killing a worker never leaves ranks running
without the lock. Standard library only: the worker need not import torch.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import bench
from bench import records, schema, signals
from bench.job import Job
from bench.records import Result
from bench.settings import Settings

STOP_GRACE_SECONDS = 10.0
DIST_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def bench_pythonpath() -> str:
    """PYTHONPATH under which child processes import this same `bench`, installed or not."""
    package_root = str(Path(bench.__file__).resolve().parent.parent)
    return os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(processes: list[subprocess.Popen]) -> None:
    """Terminate, then kill what is left after a grace period."""
    for p in processes:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for p in processes:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run(job: Job, settings: Settings, run_dir: Path) -> Result:
    """Train `job` as `job.gpus` rank processes; returns the job's result record (written)."""
    from bench.distributed import RANK_LOG
    from bench.executors.worker import NO_SPACE, exit_description, failure_record, no_space_record

    base = {k: v for k, v in os.environ.items() if k not in DIST_VARIABLES}
    base.update(
        PYTHONPATH=bench_pythonpath(),
        BENCH_SETTINGS_JSON=json.dumps(schema.to_plain(settings)),
        **{signals.PARENT_ENV: str(os.getpid())},
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(free_port()),
        WORLD_SIZE=str(job.gpus),
        LOCAL_WORLD_SIZE=str(job.gpus),
    )
    exits: queue.Queue[tuple[int, int]] = queue.Queue()
    processes: list[subprocess.Popen] = []
    started = time.time()
    try:
        for rank in range(job.gpus):
            process = subprocess.Popen(
                [sys.executable, "-m", "bench", "_rank", str(run_dir)],
                env={**base, "RANK": str(rank), "LOCAL_RANK": str(rank)},
                stdin=subprocess.DEVNULL,
            )
            processes.append(process)
            threading.Thread(target=lambda r=rank, p=process: exits.put((r, p.wait())), daemon=True).start()
        first_failure: tuple[int, int] | None = None
        for _ in processes:
            rank, code = exits.get()
            if code != 0 and first_failure is None:
                first_failure = (rank, code)
                stop(processes)  # the others would wait for the dead rank in their next collective
    finally:
        stop(processes)  # interrupted (Ctrl-C, Slurm requeue): no rank outlives this worker
    written = records.read_result(run_dir)  # by rank 0 (the worker cleared older ones)
    if (
        isinstance(written, Result)
        and written.id == job.id
        and (first_failure is None or first_failure[0] == 0)
    ):
        return written
    rank, code = first_failure or (0, 0)
    log = run_dir / (records.LOG if rank == 0 else RANK_LOG.format(rank=rank))
    if code == NO_SPACE:
        return no_space_record(job, run_dir, started)  # nothing can be written there
    record = failure_record(job, run_dir, f"rank {rank} of {job.gpus} {exit_description(code)}", started, log)
    records.write_result(run_dir, record)
    return record
