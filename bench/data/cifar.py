"""CIFAR-10 and CIFAR-100 from their python-pickle releases (Krizhevsky 2009).

`cifar-10-batches-py/` holds `data_batch_1..5` and `test_batch`; `cifar-100-python/` holds `train`
and `test` (fine labels, 100 classes). Each pickle is a dict with `data` (N x 3072 uint8, channel
planes of 32 x 32) and the labels. The pickles are read with an unpickler that accepts only the
numpy types these files contain, so a malicious file cannot run code.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.data.base import DataError, DatasetSpec, ImageSet

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)  # the values OpenMixup and the AdAutoMix configs use

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),  # how Python 3 writes bytes in protocol-2 pickles
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def read_pickle(path: Path) -> dict[str, Any]:
    """A CIFAR batch as a dict with str keys; DataError naming the file if it is unreadable."""
    try:
        with path.open("rb") as f:
            raw = _NumpyOnlyUnpickler(f, encoding="bytes").load()
    except FileNotFoundError:
        raise DataError(f"{path}: missing") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise DataError(f"{path}: truncated, corrupt or unsafe pickle ({exc})") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a dict, found {type(raw).__name__}")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in raw.items()}


def _decode_batch(path: Path, label_key: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    batch = read_pickle(path)
    for key in ("data", label_key):
        if key not in batch:
            raise DataError(
                f"{path}: no {key!r} entry (found {', '.join(batch)}); is this the right CIFAR release?"
            )
    data = np.asarray(batch["data"])
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{path}: 'data' should be N x 3072 uint8, found {data.shape} {data.dtype}")
    if len(labels) != len(data):
        raise DataError(f"{path}: {len(data)} images but {len(labels)} labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(
            f"{path}: label {int(labels.max() if labels.max() >= num_classes else labels.min())} outside "
            f"0..{num_classes - 1}; is this CIFAR-{num_classes}?"
        )
    return data.reshape(-1, 3, 32, 32), labels


def _reader(files: dict[str, list[str]], label_key: str, num_classes: int, meta: str, names_key: str):
    def read(folder: Path, split: str, image_size: int) -> ImageSet:
        parts = [_decode_batch(folder / name, label_key, num_classes) for name in files[split]]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        classes = [
            c.decode() if isinstance(c, bytes) else str(c)
            for c in read_pickle(folder / meta).get(names_key, [])
        ]
        if classes and len(classes) != num_classes:
            raise DataError(f"{folder / meta}: {len(classes)} class names, expected {num_classes}")
        if len(labels) and len(np.unique(labels)) > num_classes:
            raise DataError(f"{folder}: more than {num_classes} classes")
        return ImageSet(torch.from_numpy(images.copy()), torch.from_numpy(labels), classes)

    return read


_C10_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
_C100_FILES = {"train": ["train"], "test": ["test"]}

CIFAR10 = DatasetSpec(
    name="cifar10",
    num_classes=10,
    image_size=32,
    mean=CIFAR_MEAN,
    std=CIFAR_STD,
    augmentation="crop_flip",
    augmentations=("crop_flip", "rrc_flip", "flip", "none"),  # rrc_flip: the Swin-T recipe
    folder="cifar-10-batches-py",
    layout="  cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}  (the python version from cs.toronto.edu)",
    required=(*_C10_FILES["train"], "test_batch", "batches.meta"),
    reader=_reader(_C10_FILES, "labels", 10, "batches.meta", "label_names"),
    split_sizes={"train": 50_000, "test": 10_000},
)

CIFAR100 = DatasetSpec(
    name="cifar100",
    num_classes=100,
    image_size=32,
    mean=CIFAR_MEAN,
    std=CIFAR_STD,
    augmentation="crop_flip",
    augmentations=("crop_flip", "rrc_flip", "flip", "none"),  # rrc_flip: the Swin-T recipe
    folder="cifar-100-python",
    layout="  cifar-100-python/{train, test, meta}  (the python version from cs.toronto.edu)",
    required=("train", "test", "meta"),
    reader=_reader(_C100_FILES, "fine_labels", 100, "meta", "fine_label_names"),
    split_sizes={"train": 50_000, "test": 10_000},
)
