"""What executors tell the caller while jobs run (the CLI turns this into progress output)."""

from __future__ import annotations

from typing import Protocol

from bench.job import Job
from bench.records import Result


class Events(Protocol):
    def started(self, job: Job) -> None: ...

    def epoch(self, job: Job, epoch: int) -> None: ...

    def finished(self, job: Job, record: Result) -> None: ...

    def skipped(self, job: Job, reason: str) -> None:
        """The job was not run here: another process is running it, or has just finished it."""

    def info(self, message: str) -> None:
        """Something the user should read (where a cluster array was submitted, how to watch it)."""


class Silent:
    """Events that go nowhere (tests, library use)."""

    def started(self, job: Job) -> None:
        pass

    def epoch(self, job: Job, epoch: int) -> None:
        pass

    def finished(self, job: Job, record: Result) -> None:
        pass

    def skipped(self, job: Job, reason: str) -> None:
        pass

    def info(self, message: str) -> None:
        pass
