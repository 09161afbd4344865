"""build_loaders: the recipe's crop scale and RandAugment reach the training transform, and only it."""

from __future__ import annotations

import torch

from bench import registry, runtime
from bench.data import transforms as T
from bench.data.pipeline import build_loaders
from bench.data.randaugment import RandAugmentStep
from bench.recipe import RandAugmentSettings, Recipe
from bench.settings import RunSettings, Settings


def loaders(recipe: Recipe):
    dataset = registry.get("datasets", "synthetic").load()
    rt = runtime.resolve(RunSettings(device="cpu"))
    return build_loaders(dataset, recipe, Settings(), rt, torch.Generator().manual_seed(0))


def test_the_recipes_randaugment_follows_the_crop_in_training_only() -> None:
    base = Recipe(batch_size=64, image_size=16, augmentation="crop_flip", train_fraction=0.125)
    recipe = Recipe(**{**base.__dict__, "randaugment": RandAugmentSettings(magnitude=9.0)})
    train, test, _ = loaders(recipe)
    assert train.transform.random == T.Chain((T.PadCropFlip(), RandAugmentStep(magnitude=9.0)))
    assert test.transform.random is None
    plain, _, _ = loaders(base)
    (x, y), (x0, y0) = next(iter(train)), next(iter(plain))
    assert torch.equal(y, y0) and not torch.equal(x, x0)  # the same order, other pixels


def test_the_recipes_crop_scale_reaches_the_random_resized_crop() -> None:
    recipe = Recipe(
        batch_size=64, image_size=24, augmentation="rrc_flip", crop_scale=(0.8, 1.0), train_fraction=0.125
    )
    train, test, _ = loaders(recipe)
    assert train.transform.random == T.ResizedCropFlip(24, (0.8, 1.0), "bicubic")
    assert next(iter(train))[0].shape == (64, 3, 24, 24) and test.transform.random is None
