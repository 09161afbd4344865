"""What executors tell the caller while jobs run (the CLI turns this into progress output)."""

from __future__ import annotations

from typing import Any, Protocol

from bench.job import Job


class Events(Protocol):
    def started(self, job: Job) -> None: ...

    def epoch(self, job: Job, epoch: int) -> None: ...

    def finished(self, job: Job, record: dict[str, Any]) -> None: ...


class Silent:
    """Events that go nowhere (tests, library use)."""

    def started(self, job: Job) -> None:
        pass

    def epoch(self, job: Job, epoch: int) -> None:
        pass

    def finished(self, job: Job, record: dict[str, Any]) -> None:
        pass
