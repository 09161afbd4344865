"""Check a dataset on disk without training: found or not, split sizes and class count against
the full release, labels in range, and a few sample images that must decode.

Reading a split's index is cheap (folder listings and the release's label files); decoding every
image is not (ImageNet would take hours), so only `samples` images per split, spread evenly over
it, are opened. `bench data check` prints these reports; `bench run` calls `validate` on every
dataset a suite needs before any job starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from bench.data.base import DataError, DatasetSpec, FileIndex, Split

SAMPLES = 5

Status = Literal["ok", "generated", "not found", "incomplete", "error"]


@dataclass
class SplitCount:
    name: str
    found: int | None  # None: could not be read
    expected: int


@dataclass
class DatasetCheck:
    """What `bench data` found for one dataset: its splits, classes, problems and notes."""

    dataset: str
    path: Path | None
    status: Status = "ok"  # "not found": no folder; "error": unusable; "incomplete": fewer images
    splits: list[SplitCount] = field(default_factory=list)
    classes: int | None = None
    expected_classes: int = 0
    problems: list[str] = field(default_factory=list)  # errors: the dataset cannot be used
    notes: list[str] = field(default_factory=list)  # differences from the full release
    sampled: int = 0  # images decoded

    @property
    def usable(self) -> bool:
        return self.status in ("ok", "generated", "incomplete")


def sample_indices(n: int, samples: int) -> list[int]:
    """Up to `samples` indices spread evenly over n items, first and last included."""
    return torch.linspace(0, n - 1, min(samples, n)).round().long().unique().tolist() if n else []


def _check_split(spec: DatasetSpec, data: Split, name: str, samples: int) -> list[str]:
    """Problems of one split that its reader does not already rule out; decodes `samples` images."""
    problems = []
    if len(data) == 0:
        problems.append(f"{name} split: no images")
    elif int(data.labels.min()) < 0 or int(data.labels.max()) >= spec.num_classes:
        problems.append(
            f"{name} split: labels span {int(data.labels.min())}..{int(data.labels.max())}, outside 0..{spec.num_classes - 1}"
        )
    if data.classes and len(data.classes) != spec.num_classes:
        problems.append(f"{name} split: {len(data.classes)} classes, but {spec.name} has {spec.num_classes}")
    if isinstance(data, FileIndex):
        for i in sample_indices(len(data), samples):
            try:
                data.pil(i)
            except DataError as exc:
                problems.append(str(exc))
    return problems


def inspect(spec: DatasetSpec, data_root: Path, samples: int = SAMPLES) -> DatasetCheck:
    if not spec.folder:
        return DatasetCheck(
            spec.name, None, "generated", expected_classes=spec.num_classes, classes=spec.num_classes
        )
    report = DatasetCheck(spec.name, spec.path(data_root), expected_classes=spec.num_classes)
    try:
        spec.check_present(data_root)
    except DataError as exc:  # no folder: not there; a folder lacking files: a broken copy
        report.status = "error" if report.path.is_dir() else "not found"
        report.problems = [str(exc)]
        return report
    for name, expected in spec.split_sizes.items():
        try:
            data = spec.load(data_root, name)
        except DataError as exc:
            report.splits.append(SplitCount(name, None, expected))
            report.problems.append(str(exc))
            continue
        report.splits.append(SplitCount(name, len(data), expected))
        report.classes = len(data.classes) if data.classes else report.classes
        report.problems += _check_split(spec, data, name, samples)
        report.sampled += len(sample_indices(len(data), samples)) if isinstance(data, FileIndex) else 0
        if len(data) != expected:
            report.notes.append(f"{name} split: {len(data):,} images, the full release has {expected:,}")
    if report.problems:
        report.status = "error"
    elif report.notes:
        report.status = "incomplete"
    return report


def validate(spec: DatasetSpec, data_root: Path, samples: int = 2) -> None:
    """Raise one DataError with every problem that makes the dataset unusable; a subset of the
    release (fewer images than the full one) is allowed, as for the test fixtures."""
    report = inspect(spec, data_root, samples)
    if not report.usable:
        raise DataError("\n".join(report.problems))
