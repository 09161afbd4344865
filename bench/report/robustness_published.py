"""Published robustness values, and why one of ours may not be compared with one of them.

The values are the published table's (`bench.report.published.load`, the leaderboard's loader,
asked for each column's metric), keyed by suite cell: (dataset, backbone, method, epochs).
`reasons` is the leaderboard's rule (`Cell.not_comparable_reason`: scale, recipe gap, data,
reducer, network) plus what only an evaluator knows: its convention differs from the code behind
the published number (FGSM's normalised-space step, the sorted ECE), or its corrupted set was
generated rather than released.
"""

from __future__ import annotations

from pathlib import Path

from bench.evaluate.config import EVALUATORS
from bench.report.collect import Cell
from bench.report.published import Published, load

Key = tuple[str, str, str, int, str]  # dataset, backbone, method, epochs, column key


def published_robustness(folder: Path) -> dict[Key, list[Published]]:
    """(dataset, backbone, method, epochs, column key) -> the published values of that column."""
    out: dict[Key, list[Published]] = {}
    for evaluator in EVALUATORS.values():
        for column in evaluator.columns:
            if column.published_metric:
                for cell, rows in load(folder, column.published_metric).items():
                    out[(*cell, column.key)] = rows
    return out


def reasons(cell: Cell, key: str, generated: bool) -> list[str]:
    """Why `cell`'s value of column `key` must not be compared with its published value ([] = comparable)."""
    if cell.primary is None:
        return []
    out = []
    rule = cell.not_comparable_reason
    if rule:
        out.append(rule)
    if key == "corruption" and generated:
        out.append("ours is on generated corruptions (ImageNet-C parameters), not the released set")
    evaluator = next(e for e in EVALUATORS.values() if any(c.key == key for c in e.columns))
    if evaluator.convention:
        out.append(evaluator.convention)
    return out
