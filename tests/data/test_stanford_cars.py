"""Stanford Cars read from a fixture in the devkit .mat layout, and the known mirror pitfalls."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from bench.data.base import DataError
from tests.conftest import copy_release
from tests.fixtures.releases import spec


def test_cars_use_the_release_class_numbering(releases: Path) -> None:
    cars = spec("stanford_cars").load(releases, "test")
    assert cars.labels[:3].tolist() == [0, 1, 2] and cars.classes[0].startswith("Maker 0")


def test_cars_annotations_have_the_devkit_structure(releases: Path) -> None:
    mat = scipy.io.loadmat(releases / "stanford_cars/devkit/cars_train_annos.mat")
    assert mat["annotations"].shape == (1, 196)
    assert set(mat["annotations"].dtype.names) == {
        "bbox_x1",
        "bbox_y1",
        "bbox_x2",
        "bbox_y2",
        "class",
        "fname",
    }


def test_cars_nested_twice_like_the_kaggle_mirror(releases: Path, tmp_path: Path) -> None:
    folder = copy_release(releases, "stanford_cars", tmp_path)
    inner = folder / "cars_test" / "cars_test"
    inner.mkdir()
    for image in (folder / "cars_test").glob("*.jpg"):
        image.rename(inner / image.name)
    with pytest.raises(DataError) as info:
        spec("stanford_cars").load(tmp_path, "test")
    message = str(info.value)
    assert "cars_test_annos_withlabels.mat: 196 of the 196 images it lists are missing" in message
    assert "cars_test/cars_test/ exists: the images are nested one level too deep" in message


def test_cars_without_labelled_test_annotations(releases: Path, tmp_path: Path) -> None:
    folder = copy_release(releases, "stanford_cars", tmp_path)
    (folder / "cars_test_annos_withlabels.mat").unlink()
    with pytest.raises(DataError) as info:
        spec("stanford_cars").check_present(tmp_path)
    message = str(info.value)
    assert "did not find cars_test_annos_withlabels.mat" in message
    assert "devkit/cars_test_annos.mat has no class labels" in message and "pytorch/vision#7545" in message
    # the unlabelled file renamed into place
    shutil.copy(folder / "devkit" / "cars_test_annos.mat", folder / "cars_test_annos_withlabels.mat")
    with pytest.raises(
        DataError, match=r"cars_test_annos_withlabels\.mat: the annotations have no 'class' field"
    ):
        spec("stanford_cars").load(tmp_path, "test")


def test_cars_label_outside_the_classes_and_wrong_class_count(releases: Path, tmp_path: Path) -> None:
    folder = copy_release(releases, "stanford_cars", tmp_path)
    path = folder / "devkit" / "cars_train_annos.mat"
    mat = scipy.io.loadmat(path)
    mat["annotations"][0, 5]["class"] = np.array([[197]], dtype=np.uint8)
    scipy.io.savemat(path, {"annotations": mat["annotations"]})
    with pytest.raises(
        DataError, match=r"cars_train_annos\.mat: annotation 6 \(00006\.jpg\) has class 197, outside 1\.\.196"
    ):
        spec("stanford_cars").load(tmp_path, "train")
    meta = folder / "devkit" / "cars_meta.mat"
    names = scipy.io.loadmat(meta)["class_names"][:, :195]
    scipy.io.savemat(meta, {"class_names": names})
    with pytest.raises(DataError, match=r"cars_meta\.mat: 195 class names, but stanford_cars has 196"):
        spec("stanford_cars").load(tmp_path, "test")


def test_cars_truncated_mat_file(releases: Path, tmp_path: Path) -> None:
    folder = copy_release(releases, "stanford_cars", tmp_path)
    path = folder / "devkit" / "cars_train_annos.mat"
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(DataError, match=r"cars_train_annos\.mat: unreadable \.mat file"):
        spec("stanford_cars").load(tmp_path, "train")
