"""From a dataset and a recipe to the training and test batch iterators a job uses.

The one place that decides how data reaches the model: today every dataset is held in memory
and augmented on the device (`InMemoryLoader`); large datasets will take a DataLoader path here.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import torch

from bench.data.base import DatasetSpec
from bench.data.loader import InMemoryLoader
from bench.recipe import Recipe
from bench.runtime import Runtime


class Batches(Protocol, Iterable[tuple[torch.Tensor, torch.Tensor]]):
    """An epoch's (images, labels) batches on the job's device; `len` is the number of batches."""

    def __len__(self) -> int: ...


def build_loaders(
    dataset: DatasetSpec, recipe: Recipe, data_root: Path, rt: Runtime, generator: torch.Generator
) -> tuple[Batches, Batches, dict[str, int]]:
    """(train batches, test batches, split sizes) for a job; `generator` drives all augmentation."""
    train_set = dataset.load(data_root, "train", recipe.image_size).subset(recipe.train_fraction)
    test_set = dataset.load(data_root, "test", recipe.image_size).subset(recipe.test_fraction)
    common = dict(
        batch_size=recipe.batch_size,
        mean=dataset.mean,
        std=dataset.std,
        device=rt.device,
        channels_last=rt.channels_last,
    )
    train = InMemoryLoader(
        train_set, train=True, augmentation=recipe.augmentation, generator=generator, **common
    )
    test = InMemoryLoader(test_set, train=False, **common)
    return train, test, {"train": len(train_set), "test": len(test_set)}
