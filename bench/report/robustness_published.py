"""Published robustness values beside ours, by the leaderboard's rule plus what only an evaluator knows.

A column's published rows are the published table's rows of its metric (`top1`, `top1_corruption`,
`fgsm_error`) for the same suite cell, attached by the leaderboard's `attach_published`, with the
reasons of the one comparability rule (`bench/report/comparable.py`) for the robustness view of
each seed's job: the final checkpoint of the reported network. To those, each row gets what only
the evaluator knows: its convention differs from the code behind the published number (FGSM's
normalised-space step, the sorted ECE), or its corrupted set was generated, not the release.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bench.evaluate.config import EVALUATORS
from bench.job import Job
from bench.report.collect import Cell, PublishedLike, attach_published

GENERATED = "ours is on generated corruptions (ImageNet-C parameters), not the released set"


def robustness_job(job: Job, network: str) -> Job:
    """The job as the robustness table reads it: the final checkpoint of `network` (the report
    settings are not hashed, so the id stays the job's)."""
    return replace(job, report=replace(job.report, reducer="final", network=network))


def attach(cell: Cell, key: str, rows: list[PublishedLike], suites_dir: Path) -> None:
    """The published rows of column `key` for `cell`, each with every reason it is not comparable."""
    found = [(e, c) for e in EVALUATORS.values() for c in e.columns if c.key == key]
    if not found or found[0][1].published_metric is None:  # mCE, or no published metric
        return
    evaluator, column = found[0]
    attach_published(cell, rows, suites_dir, metric=column.published_metric)
    if evaluator.convention:
        cell.verdicts = [[*why, evaluator.convention] for why in cell.verdicts]


def mark_generated(cell: Cell) -> None:
    """A corruption cell computed on a generated set is never compared with a released one."""
    cell.verdicts = [[*why, GENERATED] for why in cell.verdicts]
