"""Run jobs one after another in this process: the simplest path, and the one to debug with.

Each job runs under its folder's lock like everywhere else (bench/executors/worker.py); a
multi-GPU job still starts one process per GPU.
"""

from __future__ import annotations

from bench.executors import local, worker
from bench.executors.events import Events
from bench.job import Job
from bench.records import Result
from bench.settings import Settings

check = local.check  # the same machine, the same limits


def run(jobs: list[Job], settings: Settings, events: Events) -> list[Result]:
    records = []
    for job in jobs:
        events.started(job)
        outcome = worker.execute(job, settings, on_epoch=lambda j, row: events.epoch(j, row.epoch))
        if outcome.code in (worker.BUSY, worker.DONE_ELSEWHERE):
            events.skipped(job, outcome.reason)
            continue
        events.finished(job, outcome.record)
        records.append(outcome.record)
    return records
