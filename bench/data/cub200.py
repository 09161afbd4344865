"""CUB-200-2011 (Wah et al., Caltech-UCSD Birds 2011) from the `CUB_200_2011/` release.

Three files are joined on image id: `images.txt` (`<id> <path under images/>`),
`image_class_labels.txt` (`<id> <class 1..200>`) and `train_test_split.txt` (`<id> <1 train, 0
test>`): 11,788 images, 5,994 for training and 5,794 for testing. `classes.txt` gives the names.
Labels are the class ids minus one; images are in id order. Decoded per sample by DataLoader
workers (`loading` "stream"), with the fine-grained recipe (Resize 256, RandomResizedCrop 224
scale (0.5, 1), flip; test Resize 256 + CenterCrop 224; bilinear, torchvision's default, as in
the OpenMixup configs).
"""

from __future__ import annotations

from pathlib import Path

from bench.data.base import IMAGENET_MEAN, IMAGENET_STD, DataError, DatasetSpec, FileIndex
from bench.data.files import check_listed_files, examples, read_id_table

FOLDER = "CUB_200_2011"
NUM_CLASSES = 200
FINE_GRAINED_AUGMENTATIONS = ("resize_rrc_flip", "rrc_flip", "flip", "none")


def _class_names(folder: Path) -> list[str]:
    path = folder / "classes.txt"
    if not path.exists():
        return [str(i) for i in range(1, NUM_CLASSES + 1)]
    table = read_id_table(path, "class_id class_name")
    if sorted(table) != list(range(1, NUM_CLASSES + 1)):
        raise DataError(f"{path}: {len(table)} classes, but cub200 has {NUM_CLASSES} (ids 1..{NUM_CLASSES})")
    return [table[i][1] for i in range(1, NUM_CLASSES + 1)]


def read(folder: Path, split: str, image_size: int) -> FileIndex:
    images = read_id_table(folder / "images.txt", "image_id path")
    classes = read_id_table(folder / "image_class_labels.txt", "image_id class_id")
    is_train = read_id_table(folder / "train_test_split.txt", "image_id is_training_image")
    for path, table in (
        (folder / "image_class_labels.txt", classes),
        (folder / "train_test_split.txt", is_train),
    ):
        missing = sorted(set(images) - set(table))
        extra = sorted(set(table) - set(images))
        if missing or extra:
            raise DataError(
                f"{path}: does not list the same image ids as images.txt"
                + (f"; missing {examples(map(str, missing))}" if missing else "")
                + (f"; not in images.txt: {examples(map(str, extra))}" if extra else "")
            )
    paths, labels = [], []
    for image_id in sorted(images):
        n, flag = is_train[image_id]
        if flag not in ("0", "1"):
            raise DataError(
                f"{folder / 'train_test_split.txt'}:{n}: expected 1 (train) or 0 (test), got {flag!r}"
            )
        if (flag == "1") != (split == "train"):
            continue
        n, value = classes[image_id]
        if not value.isdigit() or not 1 <= int(value) <= NUM_CLASSES:
            raise DataError(
                f"{folder / 'image_class_labels.txt'}:{n}: class {value!r} of image {image_id} is outside "
                f"1..{NUM_CLASSES}"
            )
        paths.append(f"images/{images[image_id][1]}")
        labels.append(int(value) - 1)
    check_listed_files(folder, paths, folder / "images.txt")
    return FileIndex.of(folder, paths, labels, _class_names(folder))


def hints(folder: Path) -> list[str]:
    if (folder / FOLDER).is_dir():
        return [f"{folder / FOLDER} exists: the release is nested one level too deep; move its contents up"]
    return []


CUB200 = DatasetSpec(
    name="cub200",
    num_classes=NUM_CLASSES,
    image_size=224,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    augmentation="resize_rrc_flip",
    augmentations=FINE_GRAINED_AUGMENTATIONS,
    folder=FOLDER,
    layout=(
        "  CUB_200_2011/images/<NNN.Class_Name>/*.jpg\n"
        "  CUB_200_2011/images.txt               <image_id> <path under images/>\n"
        "  CUB_200_2011/image_class_labels.txt   <image_id> <class_id 1..200>\n"
        "  CUB_200_2011/train_test_split.txt     <image_id> <1 train | 0 test>\n"
        "  CUB_200_2011/classes.txt              <class_id> <name>\n"
        "  (CUB_200_2011.tgz from caltech.edu, unpacked as is)"
    ),
    required=("images", "images.txt", "image_class_labels.txt", "train_test_split.txt"),
    reader=read,
    split_sizes={"train": 5_994, "test": 5_794},
    loading="stream",
    interpolation="bilinear",
    eval_crop=0.875,
    hints=hints,
)
