"""What every dataset spec promises: label dtype, the papers' default recipes, per-dataset augmentations."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.fixtures.releases import SIZES, spec


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
