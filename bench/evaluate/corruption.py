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
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from bench.data.base import DataError, ImageSet, subset_indices
from bench.data.corruptions import (
    ALL,
    MAIN,
    RELEASES,
    SEVERITIES,
    CorruptionSet,
    describe,
    prefetch,
    release,
)
from bench.data.corruptions_generated import generated
from bench.evaluate.config import CorruptionSettings

if TYPE_CHECKING:
    from bench.evaluate.context import EvaluationContext

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
    networks: dict[str, nn.Module],
    cset: CorruptionSet,
    batch_size: int,
    device: torch.device,
    advance: Callable[[], None] = lambda: None,
) -> dict[str, Cells]:
    """network -> cells; every batch is read once (in a background thread) and fed to every network;
    `advance` is called after each batch."""
    cells = [(c, s) for c in cset.corruptions for s in SEVERITIES]
    correct = {name: torch.zeros(len(cells), dtype=torch.long, device=device) for name in networks}
    total = np.zeros(len(cells), dtype=np.int64)
    for images, labels, cell in prefetch(_host(cset, batch_size, device.type == "cuda")):
        x, y = to_device(images, device), labels.to(device, non_blocking=True)
        k = cell.to(device, non_blocking=True)
        for name, net in networks.items():
            correct[name].index_add_(0, k, (net(x).argmax(dim=1) == y).long())
        total += np.bincount(cell.numpy(), minlength=len(cells))
        advance()
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


# --- the corruption evaluator ----------------------------------------------------------------------


def evaluate_run(context: EvaluationContext, settings: CorruptionSettings) -> dict[str, dict[str, Any]]:
    """The corruption evaluator (bench/evaluate/config.py): every cell, the aggregates, and what
    the numbers were computed on (release or generated set, with its generation record)."""
    kind = source_kind(context.run.job.dataset, settings.corruption_source)
    cset = corruption_set(context, settings.seed, kind)
    batches = -(-len(cset.corruptions) * len(SEVERITIES) * cset.cell_size // settings.batch_size)
    with context.progress("corruption", batches) as bar:
        cells = evaluate(context.networks, cset, settings.batch_size, context.device, bar.advance)
    about = describe(cset)
    return {name: {**aggregates(c), "cells": c, **about} for name, c in cells.items()}


def source_kind(dataset: str, source: str) -> str:
    """'release' or 'generated': auto takes the release where one is known for the dataset."""
    if source == "auto":
        return "release" if dataset in RELEASES else "generated"
    return source


def corruption_set(context: EvaluationContext, seed: int, kind: str) -> CorruptionSet:
    """The run's corrupted test split: the same images (and subset) as its clean test split."""
    run, test = context.run, context.test
    if kind == "release":
        cset = _release_for(context)
    else:
        cache = context.settings.cache_dir / "corruptions" / run.job.dataset
        cset = generated(test.images.numpy(), test.labels.numpy(), cache, seed)
    shape = getattr(cset, "image_shape", None)
    if shape is not None and tuple(shape) != tuple(test.images.shape[2:]):
        raise DataError(
            f"{cset.source}: images are {shape[0]}x{shape[1]} px but run {run.run_dir} takes "
            f"{test.images.shape[2]}x{test.images.shape[3]} px"
        )
    return cset


def _release_for(context: EvaluationContext) -> CorruptionSet:
    job, test = context.run.job, context.test
    if job.dataset not in RELEASES:
        raise DataError(
            f"no released corrupted test set is known for dataset {job.dataset!r} (known: {', '.join(RELEASES)}); "
            "use corruption_source 'generated' (--corruption-source generated)"
        )
    fraction = job.recipe.test_fraction
    full = context.run.dataset.split_sizes.get("test", len(test))
    indices = None if fraction >= 1 else subset_indices(full, fraction).numpy()
    cset = release(job.dataset, context.settings.data_root, indices=indices, classes=test.classes)
    _check_labels(cset, test, indices, job.dataset)
    return cset


def _check_labels(cset: CorruptionSet, test: ImageSet, indices: np.ndarray | None, dataset: str) -> None:
    labels = getattr(cset, "labels", None)
    if labels is None:  # a folder release: labels are its class folders
        return
    # a .npy release repeats the test labels in every severity block
    first = labels[: cset.block] if indices is None else labels[indices]  # type: ignore[attr-defined]
    if len(first) != len(test) or not np.array_equal(first.astype(np.int64), test.labels.numpy()):
        raise DataError(
            f"{cset.source}: labels.npy does not match the labels of {dataset}'s test split "
            "(a different dataset's corrupted set?)"
        )
