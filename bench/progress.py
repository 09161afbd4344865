"""Progress with an ETA for every step that can take more than a few seconds.

One primitive for the whole harness, so that `bench run`, `bench robustness`, corruption generation
and `bench visualize` all look alike: on a terminal a rich bar (description, done/total, elapsed,
ETA); elsewhere (a CI log, a Slurm output file, a pipe) one plain line every `every_s` seconds and a
last line at the end, so a log shows progress without thousands of carriage returns.

    with progress("generating CIFAR-100-C", total=95) as bar:
        for item in items:
            ...
            bar.advance()
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class _PlainBar:
    """Progress as occasional text lines (no terminal): `label: 40/95 (0:31 elapsed, ETA 0:43)`."""

    def __init__(self, label: str, total: int | None, stream: TextIO, every_s: float) -> None:
        self.label, self.total, self.stream, self.every_s = label, total, stream, every_s
        self.done = 0
        self.start = self.last = time.monotonic()

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        if not self.total:
            return f"{self.label}: {self.done} done ({_clock(elapsed)} elapsed)"
        eta = elapsed / self.done * (self.total - self.done) if self.done else None
        eta_text = f", ETA {_clock(eta)}" if eta is not None and self.done < self.total else ""
        return f"{self.label}: {self.done}/{self.total} ({_clock(elapsed)} elapsed{eta_text})"

    def advance(self, steps: int = 1) -> None:
        self.done += steps
        now = time.monotonic()
        if now - self.last >= self.every_s:
            self.last = now
            print(self.line(), file=self.stream, flush=True)

    def describe(self, label: str) -> None:
        self.label = label

    def close(self) -> None:
        print(self.line(), file=self.stream, flush=True)


class _RichBar:
    def __init__(self, label: str, total: int | None, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=False,
        )
        self.progress.start()
        self.task = self.progress.add_task(label, total=total)

    def advance(self, steps: int = 1) -> None:
        self.progress.advance(self.task, steps)

    def describe(self, label: str) -> None:
        self.progress.update(self.task, description=label)

    def close(self) -> None:
        self.progress.stop()


@contextlib.contextmanager
def progress(
    label: str, total: int | None, *, stream: TextIO | None = None, every_s: float = 10.0
) -> Iterator[_PlainBar | _RichBar]:
    """A progress bar for `total` steps (None: unknown); `advance()` after each, `describe()` to
    relabel. Rich on a terminal, plain lines every `every_s` seconds otherwise."""
    stream = stream if stream is not None else sys.stderr
    bar: _PlainBar | _RichBar
    bar = _RichBar(label, total, stream) if stream.isatty() else _PlainBar(label, total, stream, every_s)
    try:
        yield bar
    finally:
        bar.close()
