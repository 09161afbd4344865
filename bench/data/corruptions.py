"""Corrupted test sets (Hendrycks & Dietterich, ICLR 2019, arXiv 1903.12261): the released files,
or a set generated with the imagecorruptions functions where no release exists.

* CIFAR-10-C / CIFAR-100-C (zenodo 2535967 / 3555552): one `<corruption>.npy` per corruption, uint8
  (50000, 32, 32, 3) HWC RGB, severity-major: rows [(s−1)·10000, s·10000) hold severity s, each block
  in the CIFAR test-set order; `labels.npy` holds the 10000 test labels five times. The files are
  memory-mapped, so a batch is one contiguous read and the 2.9 GB never sit in memory at once.
* Tiny-ImageNet-C (zenodo 2536630) / ImageNet-C (zenodo 2235448): JPEGs in
  `<corruption>/<severity>/<wnid>/<image>`; classes are the wnids in sorted order (ImageFolder).
* Generated (bench/data/corruptions_generated.py): for a dataset with no release, the 19 corruptions
  at 5 severities are applied to its test split with `imagecorruptions` (the maintained fork
  imagecorruptions-imaug), seeded per image, checked, and cached in the CIFAR-C `.npy` format. Its
  parameters are the ImageNet-C constants in absolute pixels, far harsher on small images than
  CIFAR-C's, so such results are labelled "generated (ImageNet-C parameters)" and never compared
  with a released set.

15 corruptions are the benchmark ("common"); the 4 extra were held out for validation in the paper.
AdAutoMix/OpenMixup pool all 19 × 5; RobustBench averages the 15 main × 5.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.base import DataError

MAIN = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "glass_blur",
    "motion_blur",
    "zoom_blur",
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "elastic_transform",
    "pixelate",
    "jpeg_compression",
)
EXTRA = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
ALL = MAIN + EXTRA
SEVERITIES = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Release:
    folder: str  # under the data root
    layout: str  # "npy" or "folders"
    title: str


RELEASES = {
    "cifar10": Release("CIFAR-10-C", "npy", "CIFAR-10-C (Hendrycks & Dietterich 2019, zenodo 2535967)"),
    "cifar100": Release("CIFAR-100-C", "npy", "CIFAR-100-C (Hendrycks & Dietterich 2019, zenodo 3555552)"),
    "tiny_imagenet": Release(
        "Tiny-ImageNet-C", "folders", "Tiny-ImageNet-C (Hendrycks & Dietterich 2019, zenodo 2536630)"
    ),
    "imagenet": Release("ImageNet-C", "folders", "ImageNet-C (Hendrycks & Dietterich 2019, zenodo 2235448)"),
}


@dataclass
class CorruptionSet:
    """A corrupted test set: (corruption, severity) cells of uint8 HWC images with int64 labels."""

    source: str  # what the numbers are computed on, shown in every table
    generated: bool
    corruptions: tuple[str, ...]  # those present, in ALL order
    cell_size: int
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(c for c in ALL if c not in self.corruptions)

    def batches(
        self, corruption: str, severity: int, batch_size: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        raise NotImplementedError


class NpyCorruptions(CorruptionSet):
    """The CIFAR-C layout, memory-mapped; `indices` selects the same images in every severity block."""

    def __init__(
        self,
        folder: Path,
        *,
        source: str,
        generated: bool = False,
        indices: np.ndarray | None = None,
        notes: dict[str, Any] | None = None,
    ) -> None:
        names = [c for c in ALL if (folder / f"{c}.npy").is_file()]
        _require(folder, [c for c in MAIN if c not in names], "<corruption>.npy files", ".npy")
        if not (folder / "labels.npy").is_file():
            raise DataError(f"{folder}: labels.npy is missing")
        self.labels = _open(folder / "labels.npy")
        if self.labels.ndim != 1 or len(self.labels) % len(SEVERITIES):
            raise DataError(
                f"{folder / 'labels.npy'}: expected one label per row of 5 severity blocks, found shape {self.labels.shape}"
            )
        self.block = len(self.labels) // len(SEVERITIES)
        self.arrays = {c: _open(folder / f"{c}.npy") for c in names}
        for name, array in self.arrays.items():
            if (
                array.dtype != np.uint8
                or array.ndim != 4
                or array.shape[0] != len(self.labels)
                or array.shape[3] != 3
            ):
                raise DataError(
                    f"{folder / name}.npy: expected uint8 ({len(self.labels)}, H, W, 3) to match labels.npy, "
                    f"found {array.dtype} {array.shape}"
                )
        if indices is not None and len(indices) and indices.max() >= self.block:
            raise DataError(f"{folder}: {self.block} images per severity, fewer than the test split's")
        self.indices = indices
        size = self.block if indices is None else len(indices)
        super().__init__(source, generated, tuple(names), size, notes or {})

    @property
    def image_shape(self) -> tuple[int, int]:
        return tuple(next(iter(self.arrays.values())).shape[1:3])

    def batches(
        self, corruption: str, severity: int, batch_size: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        array, start = self.arrays[corruption], (severity - 1) * self.block
        for i in range(0, self.cell_size, batch_size):
            if self.indices is None:
                rows = slice(start + i, start + min(i + batch_size, self.block))  # one contiguous read
            else:
                rows = start + self.indices[i : i + batch_size]
            yield np.array(array[rows]), self.labels[rows].astype(np.int64)  # copies: the read happens here


class FolderCorruptions(CorruptionSet):
    """The ImageNet-C layout: `<corruption>/<severity>/<wnid>/<image>`, decoded in a thread pool."""

    def __init__(
        self, folder: Path, *, source: str, classes: list[str] | None = None, threads: int = 8
    ) -> None:
        names = [c for c in ALL if all((folder / c / str(s)).is_dir() for s in SEVERITIES)]
        _require(folder, [c for c in MAIN if c not in names], "<corruption>/<1..5>/<wnid>/ folders", "/1..5")
        self.folder, self.threads = folder, threads
        self.files: dict[tuple[str, int], list[tuple[Path, int]]] = {}
        sizes = set()
        for c in names:
            for s in SEVERITIES:
                cell = folder / c / str(s)
                wnids = sorted(p.name for p in cell.iterdir() if p.is_dir())
                order = classes if classes and set(wnids) <= set(classes) else wnids
                index = {w: i for i, w in enumerate(order)}
                self.files[c, s] = [
                    (f, index[w]) for w in wnids for f in sorted((cell / w).iterdir()) if f.is_file()
                ]
                sizes.add(len(self.files[c, s]))
        if len(sizes) != 1 or 0 in sizes:
            raise DataError(
                f"{folder}: the (corruption, severity) folders hold different or zero numbers of images: {sorted(sizes)}"
            )
        super().__init__(source, False, tuple(names), sizes.pop())

    def batches(
        self, corruption: str, severity: int, batch_size: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        from PIL import Image

        def decode(path: Path) -> np.ndarray:
            with Image.open(path) as image:
                return np.asarray(image.convert("RGB"))

        files = self.files[corruption, severity]
        with ThreadPoolExecutor(self.threads) as pool:  # PIL releases the GIL while decoding
            for i in range(0, len(files), batch_size):
                chunk = files[i : i + batch_size]
                images = list(pool.map(decode, [f for f, _ in chunk]))
                if len({im.shape for im in images}) != 1:
                    raise DataError(f"{self.folder / corruption / str(severity)}: images of different sizes")
                yield np.stack(images), np.array([label for _, label in chunk], dtype=np.int64)


def _open(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: not a readable .npy file ({exc})") from None


def _require(folder: Path, missing: list[str], what: str, suffix: str) -> None:
    if missing:
        raise DataError(
            f"{folder}: corruption files missing: {', '.join(m + suffix for m in missing)}. "
            f"Expected {what} for the 15 main corruptions ({', '.join(MAIN)}) and optionally the 4 extra "
            f"({', '.join(EXTRA)}), as in the Hendrycks & Dietterich release."
        )


def release(
    dataset: str, data_root: Path, *, indices: np.ndarray | None, classes: list[str] | None
) -> CorruptionSet:
    """The released corrupted set of `dataset` under the data root; DataError naming what is missing."""
    rel = RELEASES[dataset]
    folder = data_root / rel.folder
    if not folder.is_dir():
        raise DataError(
            f"{rel.title} not found: no folder {folder}. Extract the release there "
            f"({'one <corruption>.npy per corruption and labels.npy' if rel.layout == 'npy' else '<corruption>/<severity>/<wnid>/ JPEG folders'}), "
            "or pass --corruption-source generated for imagecorruptions-generated data (never comparable with the release)."
        )
    if rel.layout == "npy":
        return NpyCorruptions(folder, source=rel.title, indices=indices)
    if indices is not None:
        raise DataError(
            f"{rel.title}: evaluating a test subset (test_fraction < 1) is only supported for .npy releases"
        )
    return FolderCorruptions(folder, source=rel.title, classes=classes)


# --- reading ahead ---------------------------------------------------------------------------


def prefetch(batches: Iterable[Any], depth: int = 3) -> Iterator[Any]:
    """Iterate `batches` in a background thread, `depth` items ahead, so reading overlaps compute
    (NumPy copies and JPEG decoding release the GIL). Exceptions surface in the consumer."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work() -> None:
        try:
            for item in batches:
                if stop.is_set():
                    return
                q.put(item)
        except BaseException as exc:  # re-raised in the consumer
            q.put(exc)
            return
        q.put(done)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        while (item := q.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.01)


def describe(cset: CorruptionSet) -> dict[str, Any]:
    """The record of what a corruption result was computed on."""
    return {
        "source": cset.source,
        "generated": cset.generated,
        "corruptions": list(cset.corruptions),
        "missing": list(cset.missing),
        "images_per_cell": cset.cell_size,
        **({"generation": dict(cset.notes)} if cset.notes else {}),
    }
