"""Top-1 of every (corruption, severity) cell, and the named aggregates derived from them.

Papers disagree on what "corruption accuracy" means, so the cells are the record and every
aggregate is computed from them under an explicit name:

* `cacc19`: pooled top-1 over all 19 corruptions × 5 severities (AdAutoMix / OpenMixup concatenate
  the 19 files of CIFAR-100-C into one 950,000-image test set);
* `cacc15`: mean top-1 over the 15 main corruptions × 5 severities (RobustBench);
* mCE: Σₛ E(c, s) / Σₛ E_baseline(c, s), averaged over the 15 main corruptions, in percent
  (Hendrycks & Dietterich, with a named baseline run instead of AlexNet).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.data.corruptions import ALL, MAIN, SEVERITIES, CorruptionSet, prefetch

Cells = dict[str, dict[str, dict[str, float]]]  # corruption -> severity ("1".."5") -> correct, total, top1


def to_device(images, device: torch.device) -> torch.Tensor:
    """uint8 (N, H, W, 3) host images -> float (N, 3, H, W) in [0, 1] on `device` (converted there,
    so only a quarter of the bytes cross the bus)."""
    x = torch.from_numpy(images) if not isinstance(images, torch.Tensor) else images
    x = x.to(device, non_blocking=True)
    return x.permute(0, 3, 1, 2).float().div_(255)


def full_batches(cset: CorruptionSet, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(images, labels, cell index) batches of exactly `batch_size` (the last may be short) that run
    across cell boundaries, so small cells and ragged cell ends cost no extra forward passes."""
    cells = [(c, s) for c in cset.corruptions for s in SEVERITIES]
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    held = 0
    for k, (corruption, severity) in enumerate(cells):
        for images, labels in cset.batches(corruption, severity, batch_size):
            parts.append((images, labels, np.full(len(labels), k, dtype=np.int64)))
            held += len(labels)
            if held < batch_size:
                continue
            joined = [np.concatenate(p) if len(parts) > 1 else p[0] for p in zip(*parts)]
            whole = held // batch_size * batch_size
            for i in range(0, whole, batch_size):
                yield tuple(a[i : i + batch_size] for a in joined)  # type: ignore[misc]
            parts, held = [tuple(a[whole:] for a in joined)], held - whole  # type: ignore[list-item]
    if held:
        yield tuple(np.concatenate(p) for p in zip(*parts))  # type: ignore[misc]


def _host(cset: CorruptionSet, batch_size: int, pin: bool):
    for images, labels, cell in full_batches(cset, batch_size):
        batch = [torch.from_numpy(np.ascontiguousarray(a)) for a in (images, labels, cell)]
        yield [t.pin_memory() for t in batch] if pin else batch


@torch.no_grad()
def evaluate(
    networks: dict[str, nn.Module], cset: CorruptionSet, batch_size: int, device: torch.device
) -> dict[str, Cells]:
    """network -> cells; every batch is read once (in a background thread) and fed to every network."""
    cells = [(c, s) for c in cset.corruptions for s in SEVERITIES]
    correct = {name: torch.zeros(len(cells), dtype=torch.long, device=device) for name in networks}
    total = np.zeros(len(cells), dtype=np.int64)
    for images, labels, cell in prefetch(_host(cset, batch_size, device.type == "cuda")):
        x, y = to_device(images, device), labels.to(device, non_blocking=True)
        k = cell.to(device, non_blocking=True)
        for name, net in networks.items():
            correct[name].index_add_(0, k, (net(x).argmax(dim=1) == y).long())
        total += np.bincount(cell.numpy(), minlength=len(cells))
    out: dict[str, Cells] = {name: {} for name in networks}
    for name in networks:
        hits = correct[name].cpu().tolist()
        for (corruption, severity), h, n in zip(cells, hits, total.tolist()):
            out[name].setdefault(corruption, {})[str(severity)] = {
                "correct": h,
                "total": n,
                "top1": 100.0 * h / max(n, 1),
            }
    return out


def aggregates(cells: Cells) -> dict[str, Any]:
    """cacc19 (pooled over 19 × 5; None if an extra corruption is missing), cacc15 (mean over the
    15 main × 5), and each corruption's mean over its severities."""
    have = [c for c in ALL if c in cells]
    pooled = None
    if all(c in cells for c in ALL):
        correct = sum(cells[c][str(s)]["correct"] for c in ALL for s in SEVERITIES)
        total = sum(cells[c][str(s)]["total"] for c in ALL for s in SEVERITIES)
        pooled = 100.0 * correct / total
    main = statistics.fmean(cells[c][str(s)]["top1"] for c in MAIN for s in SEVERITIES)
    return {
        "cacc19": pooled,
        "cacc15": main,
        "per_corruption": {c: statistics.fmean(cells[c][str(s)]["top1"] for s in SEVERITIES) for c in have},
    }


def mce(cells: Cells, baseline: Cells) -> float | None:
    """Mean corruption error over the 15 main corruptions relative to `baseline`, in percent;
    None if the baseline makes no error on some corruption (the ratio is undefined)."""
    ratios = []
    for c in MAIN:
        ours = sum(100.0 - cells[c][str(s)]["top1"] for s in SEVERITIES)
        theirs = sum(100.0 - baseline[c][str(s)]["top1"] for s in SEVERITIES)
        if theirs == 0:
            return None
        ratios.append(ours / theirs)
    return 100.0 * statistics.fmean(ratios)
