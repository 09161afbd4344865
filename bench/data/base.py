"""What the harness knows about a dataset before reading it, and the in-memory form it reads into.

A `DatasetSpec` carries the facts needed to validate a suite and to check a data folder without
loading it (class count, split sizes, default image size and augmentation, the expected layout),
plus the reader that turns the release's files into an `ImageSet`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from bench.errors import BenchError, ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class DataError(BenchError):
    """A dataset that is missing or does not match its release format."""


@dataclass
class ImageSet:
    """A split held in memory: uint8 images (N, 3, H, W) and int64 labels (N,)."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, fraction: float, seed: int = 0) -> ImageSet:
        """A fixed random `fraction` of the split (the same for every job), for reduced-scale runs."""
        if fraction >= 1.0:
            return self
        keep = subset_indices(len(self), fraction, seed)
        return ImageSet(self.images[keep], self.labels[keep], self.classes)


def subset_indices(n: int, fraction: float, seed: int = 0) -> torch.Tensor:
    """The sorted indices `ImageSet.subset` keeps (all of them when `fraction` >= 1)."""
    if fraction >= 1.0:
        return torch.arange(n)
    keep = max(1, int(n * fraction))
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:keep].sort().values


Reader = Callable[[Path, str, int], ImageSet]  # (dataset folder, split, image size) -> ImageSet


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    num_classes: int
    image_size: int  # the protocol's training resolution
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    augmentation: str  # the protocol's training augmentation
    augmentations: tuple[str, ...]  # every augmentation this dataset supports
    folder: str  # under the data root; "" for generated data
    layout: str  # the expected files, for error messages
    required: tuple[str, ...]  # paths under `folder` that must exist
    reader: Reader
    split_sizes: dict[str, int] = field(default_factory=dict)  # expected sizes of the full release

    def recipe_defaults(self) -> dict[str, Any]:
        return {"image_size": self.image_size, "augmentation": self.augmentation}

    def check_recipe(self, recipe: Any, where: str) -> None:
        if recipe.augmentation not in self.augmentations:
            raise ConfigError(
                f"augmentation {recipe.augmentation!r} is not available for {self.name}; valid: {', '.join(self.augmentations)}",
                key=f"recipe.augmentation ({where})",
            )

    def path(self, data_root: Path) -> Path:
        return data_root / self.folder

    def check_present(self, data_root: Path) -> None:
        """Raise DataError naming the path looked at and the expected layout if files are missing."""
        if not self.folder:
            return
        base = self.path(data_root)
        missing = [p for p in self.required if not (base / p).exists()]
        if missing:
            raise DataError(
                f"dataset {self.name!r} not found: looked in {base} and did not find {', '.join(missing)}.\n"
                f"Expected layout under the data root ({data_root}):\n{self.layout}\n"
                "Set the data root in bench.toml ([data] root), with BENCH_DATA_ROOT, or with --data-root."
            )

    def load(self, data_root: Path, split: str, image_size: int | None = None) -> ImageSet:
        self.check_present(data_root)
        return self.reader(self.path(data_root), split, image_size or self.image_size)
