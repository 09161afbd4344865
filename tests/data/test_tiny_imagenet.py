"""Tiny-ImageNet read from a fixture in the tiny-imagenet-200 format, and its failure modes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.data.base import DataError
from tests.conftest import copy_release
from tests.fixtures.releases import spec


def test_tiny_imagenet_labels_follow_sorted_wnids_and_val_annotations(releases: Path) -> None:
    folder = releases / "tiny-imagenet-200"
    wnids = sorted((folder / "wnids.txt").read_text().split())
    train = spec("tiny_imagenet").load(releases, "train")
    assert train.classes == wnids
    assert train.path(0).parent.parent.name == wnids[int(train.labels[0])]
    test = spec("tiny_imagenet").load(releases, "test")
    rows = [line.split("\t") for line in (folder / "val" / "val_annotations.txt").read_text().splitlines()]
    assert [test.path(i).name for i in range(3)] == [r[0] for r in rows[:3]]
    assert [wnids[int(v)] for v in test.labels[:3]] == [r[1] for r in rows[:3]]


def test_grayscale_jpegs_become_rgb(releases: Path) -> None:
    train = spec("tiny_imagenet").load(releases, "train")
    from PIL import Image

    gray = next(i for i in range(len(train)) if Image.open(train.path(i)).mode == "L")
    pixels = np.asarray(train.pil(gray))
    assert pixels.shape == (64, 64, 3) and (pixels[..., 0] == pixels[..., 2]).all()


def test_tiny_imagenet_wrong_class_count(releases: Path, tmp_path: Path) -> None:
    folder = copy_release(releases, "tiny-imagenet-200", tmp_path)
    lines = (folder / "wnids.txt").read_text().splitlines()
    (folder / "wnids.txt").write_text("\n".join(lines[:100]) + "\n")
    with pytest.raises(DataError, match=r"wnids\.txt: 100 class ids, but tiny_imagenet has 200"):
        spec("tiny_imagenet").load(tmp_path, "train")


def test_tiny_imagenet_val_label_outside_the_classes(releases: Path, tmp_path: Path) -> None:
    folder = copy_release(releases, "tiny-imagenet-200", tmp_path)
    ann = folder / "val" / "val_annotations.txt"
    rows = ann.read_text().splitlines()
    rows[4] = rows[4].replace(rows[4].split("\t")[1], "n99999999")
    ann.write_text("\n".join(rows) + "\n")
    with pytest.raises(
        DataError, match=r"val_annotations\.txt:5: class 'n99999999' of val_4\.JPEG is not one"
    ):
        spec("tiny_imagenet").load(tmp_path, "test")
