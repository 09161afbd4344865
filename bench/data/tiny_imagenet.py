"""Tiny-ImageNet (Stanford CS231n, 2015) from the `tiny-imagenet-200` release.

`wnids.txt` lists the 200 classes (label = position in the sorted list, as ImageFolder would give);
`train/<wnid>/images/*.JPEG` holds 500 64x64 images per class; `val/images/` holds 10,000 images
in one folder with their classes in `val/val_annotations.txt` (tab-separated: file, wnid, box).
The unlabelled `test/` folder is not used: as in the papers, val is the test split. Some images
are grayscale and are converted to RGB. The split is small enough to hold decoded in memory
(1.2 GB), so `loading` is "memory" and the decoded arrays are cached (decoded.py).
"""

from __future__ import annotations

from pathlib import Path

from bench.data.base import IMAGENET_MEAN, IMAGENET_STD, DataError, DatasetSpec, FileIndex
from bench.data.files import check_listed_files, examples, list_images, read_lines, subfolders

FOLDER = "tiny-imagenet-200"
NUM_CLASSES = 200


def _wnids(folder: Path) -> list[str]:
    path = folder / "wnids.txt"
    wnids = [line for _, line in read_lines(path)]
    if len(set(wnids)) != len(wnids):
        raise DataError(f"{path}: class ids listed more than once")
    if len(wnids) != NUM_CLASSES:
        raise DataError(f"{path}: {len(wnids)} class ids, but tiny_imagenet has {NUM_CLASSES}")
    return sorted(wnids)


def _train(folder: Path, wnids: list[str]) -> FileIndex:
    extra = sorted(set(subfolders(folder / "train")) - set(wnids))
    if extra:
        raise DataError(
            f"{folder / 'train'}: class folders not listed in wnids.txt: {examples(extra)} "
            f"(is this the tiny-imagenet-200 release?)"
        )
    paths, labels = [], []
    for label, wnid in enumerate(wnids):
        images = folder / "train" / wnid / "images"
        if not images.is_dir():
            raise DataError(f"{images}: missing (wnids.txt lists class {wnid})")
        names = list_images(images)
        if not names:
            raise DataError(f"{images}: no images")
        paths += [f"train/{wnid}/images/{n}" for n in names]
        labels += [label] * len(names)
    return FileIndex.of(folder, paths, labels, wnids)


def _val(folder: Path, wnids: list[str]) -> FileIndex:
    path = folder / "val" / "val_annotations.txt"
    label_of = {w: i for i, w in enumerate(wnids)}
    paths, labels = [], []
    for n, line in read_lines(path):
        fields = line.split("\t")
        if len(fields) < 2:
            raise DataError(
                f"{path}:{n}: expected '<file>\\t<wnid>\\t<x0>\\t<y0>\\t<x1>\\t<y1>', got {line!r}"
            )
        name, wnid = fields[0].strip(), fields[1].strip()
        if wnid not in label_of:
            raise DataError(
                f"{path}:{n}: class {wnid!r} of {name} is not one of the {NUM_CLASSES} in wnids.txt"
            )
        paths.append(f"val/images/{name}")
        labels.append(label_of[wnid])
    check_listed_files(folder, paths, path)
    return FileIndex.of(folder, paths, labels, wnids)


def read(folder: Path, split: str, image_size: int) -> FileIndex:
    wnids = _wnids(folder)
    return _train(folder, wnids) if split == "train" else _val(folder, wnids)


def hints(folder: Path) -> list[str]:
    out = []
    val = folder / "val"
    if val.is_dir() and not (val / "val_annotations.txt").exists() and len(subfolders(val)) > 1:
        out.append(
            "val/ is already sorted into class folders and val/val_annotations.txt is gone; "
            "this reader needs the release's flat val/images/ with val_annotations.txt"
        )
    if (folder / FOLDER).is_dir():
        out.append(
            f"{folder / FOLDER} exists: the release is nested one level too deep; move its contents up"
        )
    return out


TINY_IMAGENET = DatasetSpec(
    name="tiny_imagenet",
    num_classes=NUM_CLASSES,
    image_size=64,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    augmentation="rrc_flip",  # RandomResizedCrop 64 (bicubic) + flip; test at 64 px, no crop
    augmentations=("rrc_flip", "crop_flip", "flip", "none"),
    folder=FOLDER,
    layout=(
        "  tiny-imagenet-200/wnids.txt                     the 200 class ids\n"
        "  tiny-imagenet-200/train/<wnid>/images/*.JPEG    500 per class\n"
        "  tiny-imagenet-200/val/images/*.JPEG             10,000 (the test split)\n"
        "  tiny-imagenet-200/val/val_annotations.txt       <file> TAB <wnid> TAB <box>\n"
        "  (the zip from cs231n.stanford.edu, unpacked as is)"
    ),
    required=("wnids.txt", "train", "val/images", "val/val_annotations.txt"),
    reader=read,
    split_sizes={"train": 100_000, "test": 10_000},
    loading="memory",
    interpolation="bicubic",
    eval_crop=None,
    hints=hints,
)
