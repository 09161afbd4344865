"""Progress with an ETA for every step that can take more than a few seconds.

One primitive for the whole harness, so that `bench run`, `bench robustness`, corruption generation
and `bench visualize` all look alike: on a terminal a rich bar (description, done/total, elapsed,
ETA); elsewhere (a CI log, a Slurm output file, a pipe) one plain line every `every_s` seconds and a
last line at the end, so a log shows progress without thousands of carriage returns.

    with progress("generating CIFAR-100-C", total=95) as bar:
        for item in items:
            ...
            bar.advance()

The ETA is the average time per step so far times the steps left, on the terminal as in the
logs: rich's own estimate uses only the last 30 seconds, so it vanishes whenever one step (an
epoch of a large job) takes longer than that. A command that prints its own lines while a bar is
shown passes its rich console (`console=`), so that its lines appear above the bar.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO


def clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def eta_seconds(done: float, total: float | None, elapsed: float) -> float | None:
    """Time left at the average rate so far; None before the first step or without a total."""
    if not total or done <= 0 or done >= total:
        return None
    return elapsed / done * (total - done)


class _PlainBar:
    """Progress as occasional text lines (no terminal): `label: 40/95 (0:31 elapsed, ETA 0:43)`."""

    def __init__(self, label: str, total: int | None, stream: TextIO, every_s: float) -> None:
        self.label, self.total, self.stream, self.every_s = label, total, stream, every_s
        self.done = 0
        self.start = self.last = time.monotonic()

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        if not self.total:
            return f"{self.label}: {self.done} done ({clock(elapsed)} elapsed)"
        eta = eta_seconds(self.done, self.total, elapsed)
        eta_text = f", ETA {clock(eta)}" if eta is not None else ""
        return f"{self.label}: {self.done}/{self.total} ({clock(elapsed)} elapsed{eta_text})"

    def advance(self, steps: int = 1) -> None:
        self.done += steps
        now = time.monotonic()
        if now - self.last >= self.every_s:
            self.last = now
            print(self.line(), file=self.stream, flush=True)

    def describe(self, label: str) -> None:
        self.label = label

    def remaining(self) -> float | None:
        """Seconds left at the average rate so far (None: not known yet)."""
        return eta_seconds(self.done, self.total, time.monotonic() - self.start)

    def close(self) -> None:
        print(self.line(), file=self.stream, flush=True)


def _eta_column() -> Any:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class EtaColumn(ProgressColumn):
        """`ETA 1:05` from the average rate since the start (see the module docstring)."""

        max_refresh = 0.5

        def render(self, task: Any) -> Text:
            if task.finished:
                return Text("done", style="progress.remaining")
            eta = eta_seconds(task.completed, task.total, task.elapsed or 0.0)
            return Text(f"ETA {clock(eta)}" if eta is not None else "ETA -:--", style="progress.remaining")

    return EtaColumn()


class _RichBar:
    def __init__(self, label: str, total: int | None, console: Any) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            _eta_column(),
            console=console,
            transient=False,
        )
        self.progress.start()
        self.task = self.progress.add_task(label, total=total)

    def advance(self, steps: int = 1) -> None:
        self.progress.advance(self.task, steps)

    def describe(self, label: str) -> None:
        self.progress.update(self.task, description=label)

    def remaining(self) -> float | None:
        task = self.progress.tasks[0]
        return eta_seconds(task.completed, task.total, task.elapsed or 0.0)

    def close(self) -> None:
        self.progress.stop()


@contextlib.contextmanager
def progress(
    label: str,
    total: int | None,
    *,
    stream: TextIO | None = None,
    console: Any = None,
    every_s: float = 10.0,
) -> Iterator[_PlainBar | _RichBar]:
    """A progress bar for `total` steps (None: unknown); `advance()` after each, `describe()` to
    relabel. Rich on a terminal, plain lines every `every_s` seconds otherwise. Output goes to
    `console` (a rich Console the caller also prints to) or else `stream` (default stderr)."""
    bar: _PlainBar | _RichBar
    if console is not None:
        terminal, stream = console.is_terminal, console.file
    else:
        stream = stream if stream is not None else sys.stderr
        terminal = stream.isatty()
    if terminal:
        from rich.console import Console

        bar = _RichBar(label, total, console if console is not None else Console(file=stream))
    else:
        bar = _PlainBar(label, total, stream, every_s)
    try:
        yield bar
    finally:
        bar.close()
