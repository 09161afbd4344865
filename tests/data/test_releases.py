"""Each image-folder release read from a fixture in its real format, and its failure modes: every
error names the file and what is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from bench import registry
from bench.data.base import DataError, FileIndex
from bench.data.check import inspect, validate
from tests.conftest import copy_release
from tests.fixtures.releases import SIZES, write_imagenet


def spec(name: str):
    return registry.get("datasets", name).load()


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


def test_cub_fgvc_cars_use_the_release_class_numbering(releases: Path) -> None:
    cub = spec("cub200").load(releases, "train")
    assert cub.classes[0] == "001.Bird_1" and cub.path(0).parent.name == cub.classes[int(cub.labels[0])]
    fgvc = spec("fgvc_aircraft").load(releases, "test")
    listed = (releases / "fgvc-aircraft-2013b/data/images_variant_test.txt").read_text().splitlines()[0]
    assert fgvc.classes[int(fgvc.labels[0])] == listed.split(" ", 1)[1]
    cars = spec("stanford_cars").load(releases, "test")
    assert cars.labels[:3].tolist() == [0, 1, 2] and cars.classes[0].startswith("Maker 0")


def test_imagenet_names_come_from_torchvision_meta_bin(tmp_path: Path) -> None:
    write_imagenet(tmp_path, meta=True)
    data = spec("imagenet").load(tmp_path, "test")
    assert data.classes[:2] == ["class 0", "class 1"] and len(data) == 1000


# --- bad input: every message names the file and the problem -----------------------------------


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


def test_missing_split_file_is_named_with_the_layout(releases: Path, tmp_path: Path) -> None:
    folder = copy_release(releases, "CUB_200_2011", tmp_path)
    (folder / "train_test_split.txt").unlink()
    with pytest.raises(DataError) as info:
        validate(spec("cub200"), tmp_path)
    assert f"looked in {folder} and did not find train_test_split.txt" in str(info.value)
    assert "CUB_200_2011/train_test_split.txt     <image_id> <1 train | 0 test>" in str(info.value)


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


def test_a_missing_image_is_counted_and_named(releases: Path, tmp_path: Path) -> None:
    folder = copy_release(releases, "fgvc-aircraft-2013b", tmp_path)
    victim = sorted((folder / "data" / "images").iterdir())[0]
    victim.unlink()
    with pytest.raises(
        DataError,
        match=rf"images_variant_trainval\.txt: 1 of the 100 images it lists are missing.*{victim.name}",
    ):
        spec("fgvc_aircraft").load(tmp_path, "train")


def test_fgvc_unknown_variant_and_wrong_class_count(releases: Path, tmp_path: Path) -> None:
    folder = copy_release(releases, "fgvc-aircraft-2013b", tmp_path)
    listing = folder / "data" / "images_variant_test.txt"
    rows = listing.read_text().splitlines()
    rows[1] = rows[1].split(" ")[0] + " Boeing 999"
    listing.write_text("\n".join(rows) + "\n")
    with pytest.raises(
        DataError,
        match=r"images_variant_test\.txt:2: variant 'Boeing 999' of image \d+ is not in variants\.txt",
    ):
        spec("fgvc_aircraft").load(tmp_path, "test")
    variants = folder / "data" / "variants.txt"
    variants.write_text("".join(line + "\n" for line in variants.read_text().splitlines()[:70]))
    with pytest.raises(DataError, match=r"variants\.txt: 70 distinct variants, but fgvc_aircraft has 100"):
        spec("fgvc_aircraft").load(tmp_path, "train")


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


def test_unreadable_image_is_named(releases: Path, tmp_path: Path) -> None:
    copy_release(releases, "CUB_200_2011", tmp_path)
    first = spec("cub200").load(tmp_path, "train").path(0)  # sampled first by the check
    first.write_bytes(first.read_bytes()[:200])
    report = inspect(spec("cub200"), tmp_path)
    assert report.status == "error"
    assert any(p.startswith(f"{first}: unreadable image") for p in report.problems)


# --- Stanford Cars: the devkit .mat files and the known mirror pitfalls ---------------------------


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


def test_labels_are_int64_tensors(releases: Path) -> None:
    for name in SIZES:
        assert spec(name).load(releases, "test").labels.dtype == torch.int64


def test_default_recipes_follow_the_papers() -> None:
    """adautomix.md §7 / openmixup.md §3: image size, train augmentation, test transform, normalisation."""
    from bench.data import transforms as T
    from bench.data.base import IMAGENET_MEAN

    expected = {
        "cifar100": (32, "crop_flip", T.Resize(32, "bicubic")),
        "tiny_imagenet": (64, "rrc_flip", T.Resize(64, "bicubic")),  # 64 px, no crop
        "imagenet": (224, "rrc_flip", T.ResizeCenterCrop(224, 0.875, "bicubic")),
        "cub200": (224, "resize_rrc_flip", T.ResizeCenterCrop(224, 0.875, "bilinear")),
        "fgvc_aircraft": (224, "resize_rrc_flip", T.ResizeCenterCrop(224, 0.875, "bilinear")),
        "stanford_cars": (224, "resize_rrc_flip", T.ResizeCenterCrop(224, 0.875, "bilinear")),
    }
    for name, (size, augmentation, test) in expected.items():
        dataset = spec(name)
        assert dataset.recipe_defaults() == {"image_size": size, "augmentation": augmentation}
        shape = dict(interpolation=dataset.interpolation, eval_crop=dataset.eval_crop)
        assert T.build("none", size, **shape).prepare == test
        assert test.resize.size == 256 if isinstance(test, T.ResizeCenterCrop) else True
        assert (dataset.mean == IMAGENET_MEAN) == (name != "cifar100")
    fine = T.build("resize_rrc_flip", 224, interpolation="bilinear", eval_crop=0.875)
    assert fine.prepare == T.ResizeShorter(256, "bilinear") and fine.random.scale == (0.5, 1.0)
    assert T.build("rrc_flip", 64, interpolation="bicubic", eval_crop=None).random.scale == (0.08, 1.0)


def test_augmentations_are_validated_per_dataset() -> None:
    from bench.errors import ConfigError
    from bench.recipe import Recipe

    with pytest.raises(
        ConfigError,
        match=r"'crop_flip' is not available for cub200; valid: resize_rrc_flip, rrc_flip, flip, none",
    ):
        spec("cub200").check_recipe(Recipe(augmentation="crop_flip"), "cell x")
    spec("tiny_imagenet").check_recipe(Recipe(augmentation="crop_flip"), "cell x")
