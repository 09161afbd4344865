"""FGVC-Aircraft (Maji et al., arXiv 1306.5151) from the `fgvc-aircraft-2013b` release, variant level.

`data/variants.txt` lists the 100 variants (label = line order, as torchvision's FGVCAircraft);
`data/images_variant_{trainval,test}.txt` hold `<image id> <variant name>` (names contain spaces);
images are `data/images/<id>.jpg`. The mixup papers train on trainval (6,667) and test on test
(3,333). Images are used whole, banner included, as torchvision and OpenMixup do. Decoded per
sample by DataLoader workers with the fine-grained recipe (see cub200.py).
"""

from __future__ import annotations

from pathlib import Path

from bench.data.base import IMAGENET_MEAN, IMAGENET_STD, DataError, DatasetSpec, FileIndex
from bench.data.cub200 import FINE_GRAINED_AUGMENTATIONS
from bench.data.files import check_listed_files, read_lines, read_pairs

FOLDER = "fgvc-aircraft-2013b"
NUM_CLASSES = 100
SPLIT_FILES = {"train": "images_variant_trainval.txt", "test": "images_variant_test.txt"}


def _variants(data: Path) -> list[str]:
    path = data / "variants.txt"
    variants = [line for _, line in read_lines(path)]
    if len(variants) != NUM_CLASSES or len(set(variants)) != len(variants):
        raise DataError(
            f"{path}: {len(set(variants))} distinct variants, but fgvc_aircraft has {NUM_CLASSES}"
        )
    return variants


def read(folder: Path, split: str, image_size: int) -> FileIndex:
    data = folder / "data"
    variants = _variants(data)
    label_of = {v: i for i, v in enumerate(variants)}
    listing = data / SPLIT_FILES[split]
    paths, labels = [], []
    for n, image_id, variant in read_pairs(listing, "image_id variant"):
        if variant not in label_of:
            raise DataError(f"{listing}:{n}: variant {variant!r} of image {image_id} is not in variants.txt")
        paths.append(f"data/images/{image_id}.jpg")
        labels.append(label_of[variant])
    check_listed_files(folder, paths, listing)
    return FileIndex.of(folder, paths, labels, variants)


def hints(folder: Path) -> list[str]:
    out = []
    if (folder / FOLDER).is_dir():
        out.append(
            f"{folder / FOLDER} exists: the release is nested one level too deep; move its contents up"
        )
    if (folder / "images").is_dir() and not (folder / "data").is_dir():
        out.append("images/ is directly in the release folder; the release keeps it and the lists in data/")
    return out


FGVC_AIRCRAFT = DatasetSpec(
    name="fgvc_aircraft",
    num_classes=NUM_CLASSES,
    image_size=224,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    augmentation="resize_rrc_flip",
    augmentations=FINE_GRAINED_AUGMENTATIONS,
    folder=FOLDER,
    layout=(
        "  fgvc-aircraft-2013b/data/images/<id>.jpg\n"
        "  fgvc-aircraft-2013b/data/variants.txt                  the 100 variants\n"
        "  fgvc-aircraft-2013b/data/images_variant_trainval.txt   <id> <variant>  (6,667: the train split)\n"
        "  fgvc-aircraft-2013b/data/images_variant_test.txt       <id> <variant>  (3,333)\n"
        "  (fgvc-aircraft-2013b.tar.gz from robots.ox.ac.uk, unpacked as is)"
    ),
    required=("data/images", "data/variants.txt", *(f"data/{f}" for f in SPLIT_FILES.values())),
    reader=read,
    split_sizes={"train": 6_667, "test": 3_333},
    loading="stream",
    interpolation="bilinear",
    eval_crop=0.875,
    hints=hints,
)
