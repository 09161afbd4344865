"""CIFAR-10/100 read from fixtures written in the real pickle format, and their failure modes."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from bench.data.base import DataError
from bench.data.cifar import CIFAR10, CIFAR100
from tests.fixtures.cifar import write_cifar10, write_cifar100


def test_cifar10_reads_all_batches_in_order(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path, per_batch=20, test=30)
    train = CIFAR10.load(tmp_path, "train")
    test = CIFAR10.load(tmp_path, "test")
    assert train.images.shape == (100, 3, 32, 32) and len(test) == 30
    assert train.classes == [f"c{i}" for i in range(10)]
    with (folder / "data_batch_1").open("rb") as f:
        raw = pickle.load(f, encoding="bytes")
    # channel planes of 32x32, in file order
    assert np.array_equal(train.images[0].numpy(), raw[b"data"][0].reshape(3, 32, 32))
    assert train.labels[:20].tolist() == raw[b"labels"]


def test_cifar100_uses_the_fine_labels(tmp_path: Path) -> None:
    folder = write_cifar100(tmp_path)
    train = CIFAR100.load(tmp_path, "train")
    with (folder / "train").open("rb") as f:
        raw = pickle.load(f, encoding="bytes")
    assert train.labels.tolist() == raw[b"fine_labels"] and len(train.classes) == 100


def test_missing_dataset_names_the_path_and_layout(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        CIFAR100.check_present(tmp_path)
    message = str(info.value)
    assert str(tmp_path / "cifar-100-python") in message and "train, test, meta" in message
    assert "BENCH_DATA_ROOT" in message


def test_truncated_pickle_is_named(tmp_path: Path) -> None:
    folder = write_cifar100(tmp_path)
    data = (folder / "train").read_bytes()
    (folder / "train").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cifar-100-python/train: truncated, corrupt or unsafe pickle"):
        CIFAR100.load(tmp_path, "train")


def test_label_out_of_range_names_the_file(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path)
    with (folder / "test_batch").open("rb") as f:
        batch = pickle.load(f, encoding="bytes")
    batch[b"labels"][3] = 10
    with (folder / "test_batch").open("wb") as f:
        pickle.dump(batch, f, protocol=2)
    with pytest.raises(DataError, match=r"test_batch: label 10 outside 0..9"):
        CIFAR10.load(tmp_path, "test")


def test_cifar100_pickles_read_as_cifar10_are_rejected(tmp_path: Path) -> None:
    """A CIFAR-100 release renamed into the CIFAR-10 folder: the labels give it away."""
    write_cifar100(tmp_path, train=200)
    c10 = tmp_path / "cifar-10-batches-py"
    c10.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]:
        (c10 / name).write_bytes((tmp_path / "cifar-100-python" / "train").read_bytes())
    with pytest.raises(DataError, match="no 'labels' entry"):
        CIFAR10.load(tmp_path, "train")


def test_pickles_cannot_run_code(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with (folder / "test_batch").open("wb") as f:
        pickle.dump({b"data": Evil()}, f, protocol=2)
    with pytest.raises(DataError, match=r"refusing to load \w+\.print"):
        CIFAR10.load(tmp_path, "test")
