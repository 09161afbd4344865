"""`bench data`'s checks on each image-folder release (read from fixtures in the real formats): sizes, classes, and the problems they name."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.data.base import DataError, FileIndex
from bench.data.check import inspect, validate
from tests.conftest import copy_release
from tests.fixtures.releases import SIZES, spec


@pytest.mark.parametrize("name", list(SIZES))
def test_every_release_reads_with_its_classes_and_sizes(releases: Path, name: str) -> None:
    dataset = spec(name)
    for split, size in SIZES[name].items():
        data = dataset.load(releases, split)
        assert isinstance(data, FileIndex) and len(data) == size
        assert len(data.classes) == dataset.num_classes
        assert data.labels.min() >= 0 and data.labels.max() < dataset.num_classes
        assert data.pil(0).mode == "RGB" and data.pil(len(data) - 1).mode == "RGB"
    report = inspect(dataset, releases)
    assert report.status == "incomplete" and not report.problems  # a tiny copy, but a valid one
    assert [s.found for s in report.splits] == list(SIZES[name].values())


def test_missing_split_file_is_named_with_the_layout(releases: Path, tmp_path: Path) -> None:
    folder = copy_release(releases, "CUB_200_2011", tmp_path)
    (folder / "train_test_split.txt").unlink()
    with pytest.raises(DataError) as info:
        validate(spec("cub200"), tmp_path)
    assert f"looked in {folder} and did not find train_test_split.txt" in str(info.value)
    assert "CUB_200_2011/train_test_split.txt     <image_id> <1 train | 0 test>" in str(info.value)


def test_unreadable_image_is_named(releases: Path, tmp_path: Path) -> None:
    copy_release(releases, "CUB_200_2011", tmp_path)
    first = spec("cub200").load(tmp_path, "train").path(0)  # sampled first by the check
    first.write_bytes(first.read_bytes()[:200])
    report = inspect(spec("cub200"), tmp_path)
    assert report.status == "error"
    assert any(p.startswith(f"{first}: unreadable image") for p in report.problems)
