"""Stanford Cars (Krause et al., 3dRR 2013) in the devkit layout torchvision's StanfordCars reads.

Under `stanford_cars/`: `cars_train/` and `cars_test/` (the images), `devkit/cars_meta.mat`
(`class_names`, 196), `devkit/cars_train_annos.mat` and `cars_test_annos_withlabels.mat`, each an
`annotations` struct array with `fname` and a 1-based `class` (and a bounding box, unused):
8,144 training and 8,041 test images. The .mat files are read with scipy.io. The original
download links are dead (torchvision's download raises), so users bring their own copy; mirrors
often differ from the release in known ways, and `hints` names each one (pytorch/vision#7545).
Decoded per sample by DataLoader workers with the fine-grained recipe (see cub200.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from bench.data.base import IMAGENET_MEAN, IMAGENET_STD, DataError, DatasetSpec, FileIndex
from bench.data.cub200 import FINE_GRAINED_AUGMENTATIONS
from bench.data.files import check_listed_files, subfolders

FOLDER = "stanford_cars"
NUM_CLASSES = 196
SPLITS = {
    "train": ("cars_train", "devkit/cars_train_annos.mat"),
    "test": ("cars_test", "cars_test_annos_withlabels.mat"),
}


def _variable(path: Path, name: str) -> Any:
    try:
        mat = scipy.io.loadmat(path, squeeze_me=True)
    except FileNotFoundError:
        raise DataError(f"{path}: missing") from None
    except Exception as exc:  # scipy raises several types for truncated or foreign files
        raise DataError(f"{path}: unreadable .mat file ({type(exc).__name__}: {exc})") from None
    if name not in mat:
        found = ", ".join(k for k in mat if not k.startswith("__")) or "nothing"
        raise DataError(f"{path}: no {name!r} variable (found {found})")
    return mat[name]


def _class_names(folder: Path) -> list[str]:
    path = folder / "devkit" / "cars_meta.mat"
    names = [str(n) for n in np.atleast_1d(_variable(path, "class_names"))]
    if len(names) != NUM_CLASSES:
        raise DataError(f"{path}: {len(names)} class names, but stanford_cars has {NUM_CLASSES}")
    return names


def read(folder: Path, split: str, image_size: int) -> FileIndex:
    images, annotations = SPLITS[split]
    path = folder / annotations
    records = np.atleast_1d(_variable(path, "annotations"))
    fields = records.dtype.names or ()
    for field in ("fname", "class"):
        if field not in fields:
            raise DataError(
                f"{path}: the annotations have no {field!r} field (found {', '.join(fields) or 'none'})"
                + (
                    "; it looks like the unlabelled devkit/cars_test_annos.mat: the labelled test "
                    "annotations were published separately (pytorch/vision#7545)"
                    if field == "class"
                    else ""
                )
            )
    classes = _class_names(folder)
    paths, labels = [], []
    for k, record in enumerate(records):
        label = int(record["class"])
        if not 1 <= label <= NUM_CLASSES:
            raise DataError(
                f"{path}: annotation {k + 1} ({record['fname']}) has class {label}, outside 1..{NUM_CLASSES}"
            )
        paths.append(f"{images}/{record['fname']}")
        labels.append(label - 1)
    check_listed_files(folder, paths, path, "; ".join(hints(folder)))
    return FileIndex.of(folder, paths, labels, classes)


def hints(folder: Path) -> list[str]:
    """The known ways mirrors (Kaggle's in particular) differ from the release."""
    out = []
    for images in ("cars_train", "cars_test"):
        if (folder / images / images).is_dir():
            out.append(
                f"{images}/{images}/ exists: the images are nested one level too deep (a Kaggle mirror); "
                f"move them up into {images}/"
            )
        elif (folder / images).is_dir() and len(subfolders(folder / images)) > 1:
            out.append(
                f"{images}/ is sorted into class folders (a Kaggle mirror); this reader needs the release's "
                "flat folder with the file names of the devkit annotations"
            )
    labelled = "cars_test_annos_withlabels.mat"
    if not (folder / labelled).exists():
        if (folder / "devkit" / labelled).exists():
            out.append(f"devkit/{labelled} is in devkit/; move it up into {folder}")
        elif (folder / "devkit" / "cars_test_annos.mat").exists():
            out.append(
                f"devkit/cars_test_annos.mat has no class labels; the labelled test annotations, {labelled}, "
                f"were published separately by the dataset's authors and are missing from most mirrors "
                "(pytorch/vision#7545); put that file in the stanford_cars folder"
            )
    if (folder / "cars_annos.mat").exists() or (folder / "car_ims").is_dir():
        out.append(
            "car_ims/ and cars_annos.mat are the release's other layout (all images in one folder); "
            "this reader needs the devkit layout: cars_train/, cars_test/ and the devkit .mat files"
        )
    if (folder / "car_data").is_dir():
        out.append("car_data/ is a Kaggle re-packaging sorted by class name; the devkit layout is needed")
    return out


STANFORD_CARS = DatasetSpec(
    name="stanford_cars",
    num_classes=NUM_CLASSES,
    image_size=224,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    augmentation="resize_rrc_flip",
    augmentations=FINE_GRAINED_AUGMENTATIONS,
    folder=FOLDER,
    layout=(
        "  stanford_cars/cars_train/*.jpg                  8,144 images\n"
        "  stanford_cars/cars_test/*.jpg                   8,041 images\n"
        "  stanford_cars/devkit/cars_meta.mat              class_names (196)\n"
        "  stanford_cars/devkit/cars_train_annos.mat       annotations: fname, class (1-based), bbox\n"
        "  stanford_cars/cars_test_annos_withlabels.mat    annotations with class, for the test images\n"
        "  (the layout torchvision.datasets.StanfordCars expects)"
    ),
    required=(
        "cars_train",
        "cars_test",
        "devkit/cars_meta.mat",
        "devkit/cars_train_annos.mat",
        "cars_test_annos_withlabels.mat",
    ),
    reader=read,
    split_sizes={"train": 8_144, "test": 8_041},
    loading="stream",
    interpolation="bilinear",
    eval_crop=0.875,
    hints=hints,
)
