"""ImageNet-1K (ILSVRC 2012) in the ImageFolder layout: `imagenet/train/<wnid>/*.JPEG` and
`imagenet/val/<wnid>/*.JPEG`, 1,281,167 and 50,000 images of 1,000 classes.

This is timm's convention and also what torchvision's `datasets.ImageNet` leaves behind after its
first use (it extracts the ILSVRC2012 archives into these folders and writes `meta.bin`, from
which class names are read when present). Labels follow the sorted wnids, the standard ImageNet
class index. The images are decoded per sample by DataLoader workers (`loading` "stream").
"""

from __future__ import annotations

from pathlib import Path

import torch

from bench.data.base import IMAGENET_MEAN, IMAGENET_STD, DataError, DatasetSpec, FileIndex
from bench.data.files import examples, list_images, subfolders

FOLDER = "imagenet"
NUM_CLASSES = 1000
ARCHIVES = ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar", "ILSVRC2012_devkit_t12.tar.gz")


def _names(folder: Path, wnids: list[str]) -> list[str]:
    """Class names from torchvision's meta.bin when it is there, else the wnids."""
    meta = folder / "meta.bin"
    if not meta.is_file():
        return wnids
    try:
        wnid_to_classes = torch.load(meta, weights_only=True)[0]
        return [wnid_to_classes[w][0] for w in wnids]
    except Exception:  # a meta.bin from another version: names are only cosmetic
        return wnids


def read(folder: Path, split: str, image_size: int) -> FileIndex:
    wnids = subfolders(folder / "train")
    if len(wnids) != NUM_CLASSES:
        raise DataError(
            f"{folder / 'train'}: {len(wnids)} class folders, but imagenet has {NUM_CLASSES}"
            + "".join(f"; {h}" for h in hints(folder))
        )
    sub = "train" if split == "train" else "val"
    if sub == "val":
        found = subfolders(folder / "val")
        if found != wnids:
            missing = sorted(set(wnids) - set(found))
            extra = sorted(set(found) - set(wnids))
            raise DataError(
                f"{folder / 'val'}: its class folders differ from train/'s"
                + (f"; missing {examples(missing)}" if missing else "")
                + (f"; not in train/: {examples(extra)}" if extra else "")
                + "".join(f"; {h}" for h in hints(folder))
            )
    paths, labels = [], []
    for label, wnid in enumerate(wnids):
        names = list_images(folder / sub / wnid)
        if not names:
            raise DataError(f"{folder / sub / wnid}: no images")
        paths += [f"{sub}/{wnid}/{n}" for n in names]
        labels += [label] * len(names)
    return FileIndex.of(folder, paths, labels, _names(folder, wnids))


def hints(folder: Path) -> list[str]:
    out = []
    archives = [a for a in ARCHIVES if (folder / a).exists()]
    if archives and not (folder / "train").is_dir():
        out.append(
            f"found {', '.join(archives)} but no extracted train/ and val/: extract them once with "
            f"torchvision (python -c \"import torchvision.datasets as d; d.ImageNet('{folder}', split='train'); "
            f"d.ImageNet('{folder}', split='val')\"), which writes this layout"
        )
    val = folder / "val"
    if val.is_dir() and not subfolders(val) and list_images(val):
        out.append(
            f"val/ holds {len(list_images(val))} images in one folder: sort them into val/<wnid>/ with the "
            "devkit's labels (torchvision.datasets.ImageNet(root, split='val') does it)"
        )
    train = folder / "train"
    if train.is_dir() and any(p.suffix == ".tar" for p in train.iterdir()):
        out.append("train/ holds per-class .tar archives: extract each into train/<wnid>/")
    kaggle = folder / "ILSVRC" / "Data" / "CLS-LOC"
    if kaggle.is_dir():
        out.append(
            f"this is the Kaggle layout: move {kaggle}/train and val here (sort val/ into class "
            "folders with LOC_val_solution.csv first)"
        )
    return out


IMAGENET = DatasetSpec(
    name="imagenet",
    num_classes=NUM_CLASSES,
    image_size=224,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    augmentation="rrc_flip",  # RandomResizedCrop 224 (bicubic) + flip; test Resize 256 + CenterCrop 224
    augmentations=("rrc_flip", "flip", "none"),
    folder=FOLDER,
    layout=(
        "  imagenet/train/<wnid>/*.JPEG   1,000 class folders, 1,281,167 images\n"
        "  imagenet/val/<wnid>/*.JPEG     the same folders, 50,000 images (the test split)\n"
        "  (ImageFolder layout, as torchvision.datasets.ImageNet or the usual valprep.sh leave it)"
    ),
    required=("train", "val"),
    reader=read,
    split_sizes={"train": 1_281_167, "test": 50_000},
    loading="stream",
    interpolation="bicubic",
    eval_crop=0.875,
    hints=hints,
)
