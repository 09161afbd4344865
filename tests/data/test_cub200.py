"""CUB-200-2011 read from a fixture in the release's format, and its failure modes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.data.base import DataError
from tests.conftest import copy_release
from tests.fixtures.releases import spec


def test_cub_uses_the_release_class_numbering(releases: Path) -> None:
    cub = spec("cub200").load(releases, "train")
    assert cub.classes[0] == "001.Bird_1" and cub.path(0).parent.name == cub.classes[int(cub.labels[0])]


def test_cub_label_outside_the_class_range(releases: Path, tmp_path: Path) -> None:
    folder = copy_release(releases, "CUB_200_2011", tmp_path)
    labels = folder / "image_class_labels.txt"
    rows = labels.read_text().splitlines()
    rows[2] = "3 201"
    labels.write_text("\n".join(rows) + "\n")
    with pytest.raises(
        DataError, match=r"image_class_labels\.txt:3: class '201' of image 3 is outside 1\.\.200"
    ):
        spec("cub200").load(tmp_path, "train")


def test_cub_files_that_disagree_on_image_ids(releases: Path, tmp_path: Path) -> None:
    folder = copy_release(releases, "CUB_200_2011", tmp_path)
    split = folder / "train_test_split.txt"
    split.write_text("".join(line + "\n" for line in split.read_text().splitlines()[:-2]))
    with pytest.raises(
        DataError, match=r"train_test_split\.txt: does not list the same image ids.*missing 399, 400"
    ):
        spec("cub200").load(tmp_path, "test")
