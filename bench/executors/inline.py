"""Run jobs one after another in this process: the simplest path, and the one to debug with."""

from __future__ import annotations

from typing import Any

from bench.executors.events import Events
from bench.job import Job
from bench.settings import Settings
from bench.train import run_job


def run(jobs: list[Job], settings: Settings, events: Events) -> list[dict[str, Any]]:
    records = []
    for job in jobs:
        events.started(job)
        record = run_job(job, settings, on_epoch=lambda j, row: events.epoch(j, row["epoch"]))
        events.finished(job, record)
        records.append(record)
    return records
