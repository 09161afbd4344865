"""Released curves as references: is a run in progress on track with the released log of its cell?

A run's accuracy at its latest evaluated epoch is put beside the released log's at the same epoch,
for the same cell and the same schedule length only (a cosine schedule of another length is at
another point of its decay). Both sides use the cell's reported network ('ema|ema_mix': the larger
head at that epoch).

The tolerance band at epoch e is measured on the released curve itself, around e:

    band(e) = max(K * sigma(e), shift(e))
    sigma(e) = 1.4826 * MAD of the curve's epoch-to-epoch changes within +-W epochs of e
    shift(e) = |c(e + D) - c(e - D)| / 2

with W = 5% and D = 2% of the schedule (at least 5 and 1 epochs) and K = 3. sigma is a robust
spread of one epoch's change around the local trend, the noise of the difference between two
curves evaluated at the same stage; shift is how much the curve moves when a run is D epochs ahead
of or behind it. Early in training, when accuracy climbs fast and jumps, the band is wide (0.5 to
6.4 points at a tenth of the budget on the shipped logs); near the end it narrows to tenths of a
point. Tested on the shipped curves: a curve compared with itself one epoch earlier stays inside
the band at 99% of the epochs after the first tenth, while a curve 3 points lower is outside it
at most epochs of the second half. What the band cannot hold is the seed-to-seed spread of the
trend itself: the released logs are one run per cell. So "below" means further below the released
run than its own noise and timing explain, a reason to look at the run, not a verdict.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import records
from bench.job import Job
from bench.published.logs import ReleasedLog, for_cell

K = 3.0
WINDOW_FRACTION, MIN_WINDOW = 0.05, 5
SHIFT_FRACTION, MIN_SHIFT = 0.02, 1


@dataclass(frozen=True)
class Tracking:
    epoch: int
    ours: float
    released: float
    band: float
    log: str  # the released log's file
    network: str

    @property
    def delta(self) -> float:
        return self.ours - self.released

    @property
    def status(self) -> str:
        if abs(self.delta) <= self.band:
            return "on track"
        return "below" if self.delta < 0 else "above"

    def text(self) -> str:
        return (
            f"ep {self.epoch}: {self.ours:.2f} vs released {self.released:.2f} "
            f"(Δ {self.delta:+.2f}, band ±{self.band:.2f}): {self.status}"
        )


def _curve(log: ReleasedLog, network: str) -> dict[int, float]:
    """epoch -> the larger of `network`'s alternatives there."""
    out: dict[int, float] = {}
    for name in network.split("|"):
        for epoch, value in log.curves.get(name, []):
            out[epoch] = max(out.get(epoch, value), value)
    return out


def band(log: ReleasedLog, network: str, epoch: int) -> float:
    """The tolerance at `epoch` (see the module docstring)."""
    curve = _curve(log, network)
    window = max(MIN_WINDOW, round(WINDOW_FRACTION * log.epochs))
    shift = max(MIN_SHIFT, round(SHIFT_FRACTION * log.epochs))
    changes = [
        curve[e + 1] - curve[e]
        for e in range(epoch - window, epoch + window)
        if e in curve and e + 1 in curve
    ]
    sigma = 0.0
    if len(changes) >= 3:
        middle = statistics.median(changes)
        sigma = 1.4826 * statistics.median(abs(c - middle) for c in changes)
    epochs = sorted(curve)
    before = max((e for e in epochs if e <= epoch - shift), default=epochs[0])
    after = min((e for e in epochs if e >= epoch + shift), default=epochs[-1])
    return max(K * sigma, abs(curve[after] - curve[before]) / 2)


def reference(logs: Iterable[ReleasedLog], job: Job, network: str) -> ReleasedLog | None:
    """The released log a run of `job` is tracked against: its cell, its schedule length, its network."""
    if job.recipe.epochs != job.nominal_epochs:  # a reduced-scale run has another schedule
        return None
    cell = (job.dataset, job.backbone, job.method_name, job.nominal_epochs)
    for log in for_cell(logs, cell):
        if log.epochs == job.recipe.epochs and all(n in log.curves for n in network.split("|")):
            return log
    return None


def ours_at(history: Sequence[dict[str, Any]], network: str) -> tuple[int, float] | None:
    """(latest evaluated epoch, top-1 of `network` there) from a run's metrics.jsonl rows."""
    for row in reversed(history):
        values = [row.get("test_top1", {}).get(n) for n in network.split("|")]
        values = [v for v in values if v is not None]
        if values:
            return int(row["epoch"]), max(values)
    return None


def track(
    job: Job, history: Sequence[dict[str, Any]], logs: Iterable[ReleasedLog], network: str
) -> Tracking | None:
    """Where a run of `job` stands against its released log, or None (no log, nothing evaluated)."""
    log = reference(logs, job, network)
    latest = ours_at(history, network)
    if log is None or latest is None:
        return None
    epoch, ours = latest
    released = _curve(log, network).get(epoch)
    if released is None:
        return None
    return Tracking(epoch, ours, released, band(log, network, epoch), log.file, network)


def track_run(job: Job, run_dir: Path, logs: Iterable[ReleasedLog], network: str) -> Tracking | None:
    """`track` on the run folder's metrics.jsonl."""
    rows, _ = records.read_metrics(run_dir)
    return track(job, [row.to_dict() for row in rows], logs, network)


def for_jobs(jobs: Iterable[Job], runs_root: Path, logs_dir: Path) -> dict[str, Tracking]:
    """job id -> its tracking, for the jobs that have a released log of the same cell and schedule."""
    from bench.published.logs import load_logs

    logs = load_logs(logs_dir) if Path(logs_dir).is_dir() else []
    out: dict[str, Tracking] = {}
    for job in jobs:
        cell = (job.dataset, job.backbone, job.method_name, job.nominal_epochs)
        if not any(log.cell == cell for log in logs):
            continue
        from bench.report.collect import resolve_network  # imports the method: only when a log exists

        found = track_run(job, records.locate(job, runs_root), logs, resolve_network(job))
        if found is not None:
            out[job.id] = found
    return out


def progress_lines(jobs: Iterable[Job], runs_root: Path, logs_dir: Path) -> list[str]:
    """One line per unfinished run with evaluated epochs and a released log of its cell."""
    moving = [
        j
        for j in jobs
        if not records.read_run(records.locate(j, runs_root), j).done
        and (records.locate(j, runs_root) / records.METRICS).exists()
    ]
    found = for_jobs(moving, runs_root, logs_dir)
    return [
        f"in progress: {j.method}/{j.dataset}/{j.backbone} seed {j.seed}: {found[j.id].text()} ({found[j.id].log})"
        for j in moving
        if j.id in found
    ]
