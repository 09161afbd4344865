"""ImageNet-1K read from a fixture of train/ and val/ class folders, and its failure modes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.data.base import DataError
from tests.conftest import copy_release
from tests.fixtures.releases import spec, write_imagenet


def test_imagenet_names_come_from_torchvision_meta_bin(tmp_path: Path) -> None:
    write_imagenet(tmp_path, meta=True)
    data = spec("imagenet").load(tmp_path, "test")
    assert data.classes[:2] == ["class 0", "class 1"] and len(data) == 1000


def test_imagenet_subset_of_classes_is_rejected(releases: Path, tmp_path: Path) -> None:
    folder = copy_release(releases, "imagenet", tmp_path)
    for wnid in sorted((folder / "train").iterdir())[:900]:
        shutil.rmtree(wnid)
    with pytest.raises(DataError, match=r"imagenet/train: 100 class folders, but imagenet has 1000"):
        spec("imagenet").load(tmp_path, "train")


def test_imagenet_flat_val_gets_a_hint(releases: Path, tmp_path: Path) -> None:
    folder = copy_release(releases, "imagenet", tmp_path)
    for image in list((folder / "val").rglob("*.JPEG")):
        image.rename(folder / "val" / image.name)
    for wnid in list((folder / "val").iterdir()):
        if wnid.is_dir():
            wnid.rmdir()
    with pytest.raises(DataError) as info:
        spec("imagenet").load(tmp_path, "test")
    assert "its class folders differ from train/'s" in str(info.value)
    assert "val/ holds 1000 images in one folder: sort them into val/<wnid>/" in str(info.value)


def test_imagenet_archives_only(tmp_path: Path) -> None:
    (tmp_path / "imagenet").mkdir()
    (tmp_path / "imagenet" / "ILSVRC2012_img_val.tar").write_bytes(b"")
    with pytest.raises(DataError, match=r"found ILSVRC2012_img_val\.tar but no extracted train/ and val/"):
        spec("imagenet").check_present(tmp_path)
