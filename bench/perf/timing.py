"""How every benchmark of the harness measures (`bench perf` and `python -m bench.perf.<name>`).

* Warm-up calls are never timed: they pay for the allocator, oneDNN/cuDNN kernel selection, lazy
  initialisation and torch.compile's compilation.
* A figure is the median over timed repeats, with its interquartile range. Several items are
  timed in rounds, one repeat of each per round, in an order rotated from round to round, so a
  drift in the machine's speed (clock, other processes) shifts all of them alike instead of
  biasing their ratios.
* A ratio against a target (a method's step over vanilla's) is the median of per-round ratios
  with a distribution-free 95% interval; "within" is "yes" or "no" only when that interval lies
  on one side of the target, after as many further rounds as it takes (up to a cap), else
  "unresolved" (see `RatioEstimate`).
* A repeat is timed by CUDA events recorded around it on a GPU (then synchronised: the
  elapsed device time, including any gap the host leaves), by `time.perf_counter` on the CPU.
  On a CPU shared with other work, `clock="process"` counts this process's CPU time instead
  (`time.process_time`), which waiting for the cores does not inflate; best with one thread, and
  always labelled, since it is not the wall time a user waits.
* Peak memory of a call is the most tensor memory it holds beyond what was allocated when it
  began: `torch.cuda.max_memory_allocated` on a GPU; on the CPU the same quantity from the torch
  profiler's allocation events (tensor memory only; the process's resident set size would blur
  it with the allocator's caching and Python objects). It is measured in an untimed call.
* Every figure is reported with the hardware and the load average: on a shared machine other
  processes inflate and blur wall-clock times.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import torch

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


@dataclass(frozen=True)
class Summary:
    """Median and interquartile range of repeated measurements."""

    median: float
    iqr: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Summary:
        if not values:
            raise ValueError("no measurements to summarise")
        q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
        return cls(statistics.median(values), q[2] - q[0], len(values))


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


Clock = Literal["wall", "process"]


def timed(fn: Callable[[], T], device: torch.device, clock: Clock = "wall") -> tuple[float, T]:
    """(seconds, result) of one call of `fn` on `device`: CUDA events on a GPU, perf_counter (or
    process_time) on the CPU."""
    if clock not in ("wall", "process") or (clock == "process" and device.type != "cpu"):
        raise ValueError(f"clock must be 'wall', or 'process' on the CPU; got {clock!r} on {device.type}")
    if device.type == "cuda":
        synchronize(device)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        result = fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1000, result
    now = time.perf_counter if clock == "wall" else time.process_time
    tic = now()
    result = fn()
    return now() - tic, result


def seconds(fn: Callable[[], Any], device: torch.device, clock: Clock = "wall") -> float:
    return timed(fn, device, clock)[0]


class Rounds(Generic[K]):
    """Interleaved rounds of one call of every item, in an order rotated from round to round, that
    can be extended: `run(n)` adds n rounds (of every item, or of a subset still being decided).

    `times[key][i]` is the item's i-th timed call; items timed in the same rounds share indices, so
    per-round ratios pair calls made under the same conditions. An item that raises is dropped
    (its exception in `errors`), the others go on.
    """

    def __init__(
        self, items: dict[K, Callable[[], Any]], device: torch.device, clock: Clock = "wall"
    ) -> None:
        self.items, self.device, self.clock = items, device, clock
        self.times: dict[K, list[float]] = {k: [] for k in items}
        self.errors: dict[K, BaseException] = {}
        self._turn = 0  # rounds run so far (warm-up included): the rotation's offset

    def run(self, n: int, keys: Iterable[K] | None = None, timed: bool = True) -> None:
        keys = [k for k in (self.items if keys is None else keys) if k not in self.errors]
        for _ in range(n):
            shift = self._turn % len(keys) if keys else 0
            self._turn += 1
            for key in keys[shift:] + keys[:shift]:
                if key in self.errors:
                    continue
                try:
                    elapsed = seconds(self.items[key], self.device, self.clock)
                except Exception as exc:
                    self.errors[key] = exc
                    continue
                if timed:
                    self.times[key].append(elapsed)

    def result(self) -> tuple[dict[K, list[float]], dict[K, BaseException]]:
        return {k: v for k, v in self.times.items() if k not in self.errors}, dict(self.errors)


def rounds(
    items: dict[K, Callable[[], Any]], device: torch.device, warmup: int, repeats: int, clock: Clock = "wall"
) -> tuple[dict[K, list[float]], dict[K, BaseException]]:
    """`warmup` untimed then `repeats` timed rounds of one call of every item, in rotated order.

    Returns the seconds of each item's timed calls, and the exception of each item that raised:
    it is dropped from the later rounds, the others go on.
    """
    r = Rounds(items, device, clock)
    r.run(warmup, timed=False)
    r.run(repeats)
    return r.result()


# --- deciding "within a target" ----------------------------------------------------------------
#
# A method's cost is the median over rounds of its per-round ratio (its step over vanilla's step
# timed in the same round, or over the sum of its passes in that round). Per-round ratios cancel
# what a round shares (a clock change, another process), and the median ignores the odd round a
# burst of other work hits. Its CONFIDENCE interval is distribution-free: the order statistics
# x_(k) and x_(n+1-k) with k the largest such that P(Binomial(n, 1/2) < k) <= (1 - CONFIDENCE) / 2,
# which needs n >= 6 rounds at 95%. "within" is decided only when the interval lies on one side of
# the target: more rounds are run until it does or a cap is reached, then "unresolved".

CONFIDENCE = 0.95
Verdict = Literal["yes", "no", "unresolved"]


@dataclass(frozen=True)
class RatioEstimate:
    ratio: float  # median of the per-round ratios
    low: float | None  # CONFIDENCE interval for that median (None: too few rounds for one)
    high: float | None
    rounds: int

    def verdict(self, target: float) -> Verdict:
        """'yes' when the whole interval is at or under `target`, 'no' when it is above."""
        if self.low is None or self.high is None:
            return "unresolved"
        if self.high <= target:
            return "yes"
        if self.low > target:
            return "no"
        return "unresolved"


def median_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The distribution-free interval for the median from order statistics; None when n is too
    small for `confidence` (n < 6 at 95%)."""
    n = len(values)
    alpha = (1 - confidence) / 2
    k, below = 0, 0.0  # below: P(Binomial(n, 1/2) < k + 1)
    while k < n:
        below += math.comb(n, k) / 2**n
        if below > alpha:
            break
        k += 1
    if k == 0:
        return None
    ordered = sorted(values)
    return ordered[k - 1], ordered[n - k]


def ratio_estimate(numerator: Sequence[float], denominators: Sequence[Sequence[float]]) -> RatioEstimate:
    """The median per-round ratio numerator_i / sum_j denominators[j][i], with its interval."""
    n = min([len(numerator), *(len(d) for d in denominators)])
    if n == 0:
        raise ValueError("no paired rounds to estimate a ratio from")
    ratios = [numerator[i] / sum(d[i] for d in denominators) for i in range(n)]
    interval = median_interval(ratios)
    low, high = interval if interval else (None, None)
    return RatioEstimate(statistics.median(ratios), low, high, n)


def epochs(loader: Iterable[T]) -> Iterator[T]:
    """The loader's items, epoch after epoch, without end."""
    while True:
        yield from loader


def repeated(
    fn: Callable[[], Any], device: torch.device, warmup: int, repeats: int, clock: Clock = "wall"
) -> Summary:
    """Seconds per call of `fn`: `repeats` timed calls after `warmup` untimed ones."""
    times, errors = rounds({"fn": fn}, device, warmup, repeats, clock)
    if errors:
        raise errors["fn"]
    return Summary.of(times["fn"])


def block_rates(
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
    device: torch.device,
    warmup: int,
    count: int,
    blocks: int,
    consume: Callable[[torch.Tensor, torch.Tensor], Any] | None = None,
    clock: Clock = "wall",
) -> list[float]:
    """Images per second of each of `blocks` blocks of `count` batches, after `warmup` batches.

    Each batch is taken from `batches` and handed to `consume` if one is given."""

    def run(n: int) -> int:
        images = 0
        for _ in range(n):
            x, y = next(batches)
            if consume is not None:
                consume(x, y)
            images += len(y)
        return images

    run(warmup)
    rates = []
    for _ in range(blocks):
        elapsed, images = timed(lambda: run(count), device, clock)
        rates.append(images / elapsed)
    return rates


def peak_memory(fn: Callable[[], Any], device: torch.device) -> int:
    """Bytes of tensor memory `fn` holds at its peak beyond what was allocated when it began.

    On the CPU, frees of tensors allocated before the call are invisible to the profiler, so
    callers free what a call would free (gradients) before it."""
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    # The profiler warns (natively) about each free of a block allocated before it started.
    with _native_stderr_silenced(), quiet_profiler(profile_memory=True) as prof:
        fn()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    held = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        held += event.nbytes()  # allocations positive, frees negative
        peak = max(peak, held)
    return peak


def tensor_bytes(*objects: Any) -> int:
    """Bytes of the distinct tensors of modules (parameters, their gradients, buffers) and of
    optimizers (their state): what a training step finds allocated when it begins."""
    seen: dict[int, int] = {}
    for obj in objects:
        if isinstance(obj, torch.nn.Module):
            params = list(obj.parameters())
            tensors = [*params, *(p.grad for p in params if p.grad is not None), *obj.buffers()]
        elif isinstance(obj, torch.optim.Optimizer):
            tensors = [
                v for state in obj.state.values() for v in state.values() if isinstance(v, torch.Tensor)
            ]
        else:
            raise TypeError(f"expected a module or an optimizer, got {type(obj).__name__}")
        for t in tensors:
            seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    return sum(seen.values())


@contextlib.contextmanager
def quiet_profiler(**options: Any) -> Iterator[torch.profiler.profile]:
    """A CPU torch profiler whose native start/stop lines (kineto's) do not reach stderr."""
    prof = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], **options)
    with _native_stderr_silenced():
        prof.start()
    try:
        yield prof
    finally:
        with _native_stderr_silenced():
            prof.stop()


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 pointed at /dev/null: silences what C++ code prints (Python's own
    stderr is flushed first and restored after)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages, as /proc/loadavg gives them."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def hardware(device: torch.device) -> dict[str, Any]:
    """What timings depend on: processor (and GPU), cores, torch threads, versions."""
    from bench.runtime import cpu_name, usable_cores

    info: dict[str, Any] = {
        "cpu": cpu_name(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info
