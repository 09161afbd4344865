"""Executors run a list of jobs and report events; each one behind the same `run` function.

* `inline`: one job after another in this process (debuggable with pdb).
* `local`: one worker process per job, as many at once as there are slots (GPUs, or CPU workers).
"""

from __future__ import annotations

from collections.abc import Callable

from bench.errors import BenchError, unknown_name

EXECUTORS = {
    "inline": "bench.executors.inline:run",
    "local": "bench.executors.local:run",
}


def get(name: str) -> Callable:
    import importlib

    if name not in EXECUTORS:
        raise BenchError(unknown_name("executor", name, EXECUTORS))
    module, _, attr = EXECUTORS[name].partition(":")
    return getattr(importlib.import_module(module), attr)
