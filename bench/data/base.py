"""What the harness knows about a dataset before reading it, and the two forms a split is read into.

A `DatasetSpec` carries the facts needed to validate a suite and to check a data folder without
training (class count, full-release split sizes, the protocol's image size, augmentation and
normalisation, the expected layout), plus the reader that turns the release's files into a split:

- `ImageSet`: every image decoded, as one uint8 tensor (CIFAR's pickles, synthetic data, and a
  decoded Tiny-ImageNet);
- `FileIndex`: the image files and their labels, nothing decoded (ImageNet, the fine-grained sets,
  Tiny-ImageNet before decoding). Reading an index is cheap: it lists folders and parses the
  release's text or .mat files, and checks them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image

from bench.errors import BenchError, ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_EXTENSIONS = (
    ".jpg",
    ".jpeg",
    ".png",
    ".ppm",
    ".bmp",
    ".pgm",
    ".tif",
    ".tiff",
    ".webp",
)  # ImageFolder's


class DataError(BenchError):
    """A dataset that is missing or does not match its release format."""


def subset_indices(n: int, fraction: float, seed: int = 0) -> torch.Tensor | None:
    """A fixed random `fraction` of n items, sorted (the same for every job); None for all of them."""
    if fraction >= 1.0:
        return None
    keep = max(1, int(n * fraction))
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:keep].sort().values


def open_rgb(path: Path) -> Image.Image:
    """An image file as an RGB PIL image (grayscale and CMYK converted); DataError naming the file."""
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except FileNotFoundError:
        raise DataError(f"{path}: missing") from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: unreadable image ({exc})") from None


def to_pil(image: torch.Tensor) -> Image.Image:
    """uint8 (3, H, W) -> RGB PIL image."""
    return Image.fromarray(image.permute(1, 2, 0).contiguous().numpy())


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
        keep = subset_indices(len(self), fraction, seed)
        return self if keep is None else ImageSet(self.images[keep], self.labels[keep], self.classes)

    def pil(self, i: int) -> Image.Image:
        return to_pil(self.images[i])


@dataclass
class FileIndex:
    """A split as image files under `root` (paths relative to it) and int64 labels; nothing decoded.

    Paths are one numpy bytes array rather than a list of str, so that forked DataLoader workers
    share it instead of copying it page by page as reference counts change.
    """

    root: Path
    paths: np.ndarray  # dtype "S": os.fsencode(relative path)
    labels: torch.Tensor
    classes: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, root: Path, paths: list[str], labels: list[int], classes: list[str]) -> FileIndex:
        encoded = (
            np.array([os.fsencode(p) for p in paths], dtype=bytes) if paths else np.array([], dtype="S1")
        )
        return cls(root, encoded, torch.tensor(labels, dtype=torch.int64), classes)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def path(self, i: int) -> Path:
        return self.root / os.fsdecode(self.paths[i])

    def subset(self, fraction: float, seed: int = 0) -> FileIndex:
        keep = subset_indices(len(self), fraction, seed)
        if keep is None:
            return self
        return FileIndex(self.root, self.paths[keep.numpy()], self.labels[keep], self.classes)

    def pil(self, i: int) -> Image.Image:
        return open_rgb(self.path(i))


Split = ImageSet | FileIndex
Reader = Callable[[Path, str, int], Split]  # (dataset folder, split, image size) -> split
Hints = Callable[[Path], list[str]]  # dataset folder -> explanations of a known wrong layout


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
    split_sizes: dict[str, int] = field(default_factory=dict)  # sizes of the full release
    loading: Literal["memory", "stream"] = "memory"  # how build_loaders feeds it (pipeline.py)
    interpolation: Literal["bilinear", "bicubic"] = "bicubic"  # of every resize in its recipe
    eval_crop: float | None = None  # None: test images resized whole; 0.875: resize 256, centre-crop 224
    hints: Hints | None = None

    def recipe_defaults(self) -> dict[str, Any]:
        return {"image_size": self.image_size, "augmentation": self.augmentation}

    def check_recipe(self, recipe: Any, where: str) -> None:
        from bench.data.transforms import RRC_AUGMENTATIONS

        if recipe.augmentation not in self.augmentations:
            raise ConfigError(
                f"augmentation {recipe.augmentation!r} is not available for {self.name}; valid: {', '.join(self.augmentations)}",
                key=f"recipe.augmentation ({where})",
            )
        if recipe.crop_scale is not None and recipe.augmentation not in RRC_AUGMENTATIONS:
            raise ConfigError(
                f"crop_scale is the area range of a RandomResizedCrop, and augmentation "
                f"{recipe.augmentation!r} has none; use it with {' or '.join(RRC_AUGMENTATIONS)}",
                key=f"recipe.crop_scale ({where})",
            )

    def path(self, data_root: Path) -> Path:
        return data_root / self.folder

    def explain(self, base: Path) -> str:
        """Known layout mistakes found in `base`, one per line, or ''."""
        found = self.hints(base) if self.hints and base.is_dir() else []
        return "".join(f"\n  - {hint}" for hint in found)

    def check_present(self, data_root: Path) -> None:
        """Raise DataError naming the path looked at and the expected layout if files are missing."""
        if not self.folder:
            return
        base = self.path(data_root)
        missing = [p for p in self.required if not (base / p).exists()]
        if missing:
            hints = self.explain(base)
            raise DataError(
                f"dataset {self.name!r} not found: looked in {base} and did not find {', '.join(missing)}."
                + (f"\nWhat is there instead:{hints}" if hints else "")
                + f"\nExpected layout under the data root ({data_root}):\n{self.layout}\n"
                "Set the data root in bench.toml ([data] root), with BENCH_DATA_ROOT, or with --data-root."
            )

    def load(self, data_root: Path, split: str, image_size: int | None = None) -> Split:
        """The split as the release stores it: an ImageSet, or a FileIndex with nothing decoded."""
        self.check_present(data_root)
        return self.reader(self.path(data_root), split, image_size or self.image_size)
