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
from typing import Any

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


def _host(cset: CorruptionSet, corruption: str, severity: int, batch_size: int, pin: bool):
    for images, labels in cset.batches(corruption, severity, batch_size):
        x, y = torch.from_numpy(images), torch.from_numpy(labels)
        yield (x.pin_memory(), y.pin_memory()) if pin else (x, y)


@torch.no_grad()
def evaluate(
    networks: dict[str, nn.Module], cset: CorruptionSet, batch_size: int, device: torch.device
) -> dict[str, Cells]:
    """network -> cells; every batch is read once and fed to every network."""
    pin = device.type == "cuda"
    out: dict[str, Cells] = {name: {} for name in networks}
    for corruption in cset.corruptions:
        for severity in SEVERITIES:
            correct = {name: torch.zeros((), dtype=torch.long, device=device) for name in networks}
            total = 0
            for images, labels in prefetch(_host(cset, corruption, severity, batch_size, pin)):
                x, y = to_device(images, device), labels.to(device, non_blocking=True)
                for name, net in networks.items():
                    correct[name] += (net(x).argmax(dim=1) == y).sum()
                total += len(labels)
            for name in networks:
                hits = int(correct[name].item())
                out[name].setdefault(corruption, {})[str(severity)] = {
                    "correct": hits,
                    "total": total,
                    "top1": 100.0 * hits / max(total, 1),
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
