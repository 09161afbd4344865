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

Bars nest (`bench visualize` trains a Mix Block inside its loop over methods): an inner bar is one
more line of the outer rich display (a terminal holds one live display at a time), and in plain
output only the innermost open bar sends heartbeat lines.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, TextIO

_OPEN: list[Any] = []  # the bars open now, outermost first


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
    """Progress as occasional text lines (no terminal): `label: 40/95 (0:31 elapsed, ETA 0:43)`,
    at most one every `every_s` seconds, and at least one: a step longer than that (an epoch, a
    Mix Block step on a loaded CPU) still gets a line every `every_s` seconds from a heartbeat
    thread, so a log never falls silent."""

    def __init__(self, label: str, total: int | None, stream: TextIO, every_s: float) -> None:
        self.label, self.total, self.stream, self.every_s = label, total, stream, every_s
        self.done = 0
        self.start = self.last = time.monotonic()
        self.printed = ""
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.heartbeat: threading.Thread | None = None
        if every_s >= 1:
            self.heartbeat = threading.Thread(target=self._beat, daemon=True)
            self.heartbeat.start()

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        if not self.total:
            return f"{self.label}: {self.done} done ({clock(elapsed)} elapsed)"
        eta = eta_seconds(self.done, self.total, elapsed)
        eta_text = f", ETA {clock(eta)}" if eta is not None else ""
        return f"{self.label}: {self.done}/{self.total} ({clock(elapsed)} elapsed{eta_text})"

    def _print(self) -> None:
        with self.lock:
            self.last = time.monotonic()
            self.printed = self.line()
            print(self.printed, file=self.stream, flush=True)

    def _beat(self) -> None:
        while not self.stopped.wait(self.every_s / 4):
            innermost = not _OPEN or _OPEN[-1] is self
            if innermost and time.monotonic() - self.last >= self.every_s:
                self._print()

    def advance(self, steps: int = 1) -> None:
        self.done += steps
        if time.monotonic() - self.last >= self.every_s:
            self._print()

    def describe(self, label: str) -> None:
        self.label = label

    def remaining(self) -> float | None:
        """Seconds left at the average rate so far (None: not known yet)."""
        return eta_seconds(self.done, self.total, time.monotonic() - self.start)

    def close(self) -> None:
        self.stopped.set()
        if self.heartbeat is not None:
            self.heartbeat.join()
        if self.line().split(" (")[0] != self.printed.split(" (")[0]:  # the last count, once
            self._print()


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
    """A task on a rich display: its own display, or one more line of an enclosing bar's."""

    def __init__(self, label: str, total: int | None, console: Any, outer: _RichBar | None = None) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.owner = outer is None
        if outer is not None:
            self.progress = outer.progress
        else:
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
        task = next(t for t in self.progress.tasks if t.id == self.task)
        return eta_seconds(task.completed, task.total, task.elapsed or 0.0)

    def close(self) -> None:
        if self.owner:
            self.progress.stop()
        else:
            self.progress.remove_task(self.task)


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
    outer = next((b for b in reversed(_OPEN) if isinstance(b, _RichBar)), None)
    if terminal or outer is not None:
        from rich.console import Console

        bar = _RichBar(label, total, console if console is not None else Console(file=stream), outer)
    else:
        bar = _PlainBar(label, total, stream, every_s)
    _OPEN.append(bar)
    try:
        yield bar
    finally:
        _OPEN.remove(bar)
        bar.close()
