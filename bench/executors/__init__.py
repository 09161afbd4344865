"""Executors run a list of jobs and report events; each one is a module with the same two functions.

* `check(jobs, settings)`: raise BenchError, before anything starts, if a job cannot run there
  (more GPUs than a node has);
* `run(jobs, settings, events) -> records`: run them (or submit them) and return the records of
  the jobs that finished.

Executors:
* `inline`: one job after another in this process (debuggable with pdb).
* `local`: one worker process per job, packed onto the visible GPUs (or CPU slots).
* `slurm`: one Slurm job array per `bench run` through submitit, one task per job.

All three run a job the same way (bench/executors/worker.py): under the job folder's lock, so
that two `bench run` processes, on any executors, never run the same job at once.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from bench.errors import BenchError, unknown_name

EXECUTORS = {
    "inline": "bench.executors.inline",
    "local": "bench.executors.local",
    "slurm": "bench.executors.slurm",
}


def get(name: str) -> ModuleType:
    if name not in EXECUTORS:
        raise BenchError(unknown_name("executor", name, EXECUTORS))
    return importlib.import_module(EXECUTORS[name])
