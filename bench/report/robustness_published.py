"""Published robustness values, and why one of ours may not be compared with one of them.

`reasons` is the leaderboard's rule (`Cell.not_comparable_reason`: scale, recipe gap, data,
reducer, network) plus what only an evaluator knows: its convention differs from the code behind
the published number (FGSM's normalised-space step, the sorted ECE), or its corrupted set was
generated rather than released, or the published row does not state the backbone or budget.
"""

from __future__ import annotations

import csv
from pathlib import Path

from bench.evaluate.config import EVALUATORS
from bench.report.collect import Cell
from bench.report.published import Published, registry_name

# published metric -> our column key
METRICS = {c.published_metric: c.key for e in EVALUATORS.values() for c in e.columns if c.published_metric}


def published_robustness(folder: Path) -> dict[tuple[str, str, str], list[Published]]:
    """(dataset, method, column key) in registry names -> the published values of that column.

    A corruption row names the corrupted set ("CIFAR-100-C"); it is filed under the clean dataset.
    The backbone and budget stay in the row (`Published.notes` keeps the source's backbone text) and
    `reasons` refuses a comparison where they differ or are not stated.
    """
    table: dict[tuple[str, str, str], list[Published]] = {}
    for path in sorted(folder.glob("*.csv")):
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                key = METRICS.get(row.get("metric", ""))
                try:
                    value = float(row.get("value") or "")
                except ValueError:
                    continue
                dataset = registry_name("datasets", row.get("dataset", "").removesuffix("-C"))
                method = registry_name("methods", row.get("method", ""))
                if key is None or dataset is None or method is None:
                    continue
                entry = Published(
                    value,
                    row.get("source", ""),
                    path.name,
                    row.get("reducer") or "unknown",
                    row.get("network") or "unknown",
                    f"backbone: {row.get('backbone', '')}; epochs: {row.get('epochs') or 'not stated'}",
                )
                table.setdefault((dataset, method, key), []).append(entry)
    return table


def _stated(notes: str, what: str) -> str:
    return notes.split(f"{what}: ", 1)[1].split(";")[0].strip() if f"{what}: " in notes else ""


def reasons(cell: Cell, key: str, generated: bool) -> list[str]:
    """Why `cell`'s value of column `key` must not be compared with its published value ([] = comparable)."""
    pub = cell.primary
    if pub is None:
        return []
    out = []
    backbone_text = _stated(pub.notes, "backbone")
    backbone = registry_name("backbones", backbone_text)
    if backbone is None:
        out.append(f"the source does not state the backbone ({backbone_text or 'blank'})")
    elif backbone != cell.backbone:
        out.append(f"backbone differs (published {backbone})")
    epochs = _stated(pub.notes, "epochs")
    if not epochs.isdigit():
        out.append("the source does not state the training budget")
    elif int(epochs) != cell.epochs:
        out.append(f"epochs {cell.epochs} ≠ {epochs}")
    rule = cell.not_comparable_reason
    if rule:
        out.append(rule)
    if key == "corruption" and generated:
        out.append("ours is on generated corruptions (ImageNet-C parameters), not the released set")
    evaluator = next(e for e in EVALUATORS.values() if any(c.key == key for c in e.columns))
    if evaluator.convention:
        out.append(evaluator.convention)
    return out
