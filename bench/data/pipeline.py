"""From a dataset and a recipe to the training and test batch iterators a job uses.

The one place that decides how data reaches the model. A dataset says which path suits it
(`DatasetSpec.loading`):

- "memory" (CIFAR, Tiny-ImageNet, synthetic): the split decoded into one uint8 tensor (Tiny's
  JPEGs once, then from the cache), moved to the device, augmented there batch by batch
  (`InMemoryLoader`);
- "stream" (ImageNet, the fine-grained sets): a DataLoader whose persistent workers decode and
  augment each image with PIL, batches pinned for the GPU (`StreamLoader`).

Both follow the same epoch plan drawn from the job's generator, so where the augmentation is the
same they yield the same samples (tests/data/test_stream.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, Protocol

import torch

from bench.data import transforms
from bench.data.base import DatasetSpec, FileIndex, Split
from bench.data.decoded import cached
from bench.data.loader import InMemoryLoader
from bench.data.stream import StreamLoader
from bench.recipe import Recipe
from bench.runtime import Runtime, usable_cores
from bench.settings import Settings

MAX_AUTO_WORKERS = 8


class Batches(Protocol, Iterable[tuple[torch.Tensor, torch.Tensor]]):
    """An epoch's (images, labels) batches on the job's device; `len` is the number of batches."""

    def __len__(self) -> int: ...


def loader_workers(settings: Settings) -> int:
    """DataLoader workers per loader: `[data] workers`, or with -1 the usable cores, at most 8."""
    if settings.data.workers >= 0:
        return settings.data.workers
    return min(MAX_AUTO_WORKERS, usable_cores())


def build_loaders(
    dataset: DatasetSpec,
    recipe: Recipe,
    settings: Settings,
    rt: Runtime,
    generator: torch.Generator,
    loading: Literal["memory", "stream"] | None = None,
) -> tuple[Batches, Batches, dict[str, int]]:
    """(train batches, test batches, split sizes) for a job; `generator` drives all augmentation.

    `loading` overrides the dataset's path (tests compare the two paths on the same data).
    """
    loading = loading or dataset.loading

    def split(name: str, fraction: float) -> Split:
        data = dataset.load(settings.data_root, name, recipe.image_size)
        if loading == "memory" and isinstance(data, FileIndex):
            data = cached(data, settings.cache_dir, dataset.name, name)  # the whole split, once
        return data.subset(fraction)

    train_set, test_set = split("train", recipe.train_fraction), split("test", recipe.test_fraction)
    shape = dict(interpolation=dataset.interpolation, eval_crop=dataset.eval_crop)
    common = dict(
        batch_size=recipe.batch_size,
        mean=dataset.mean,
        std=dataset.std,
        device=rt.device,
        channels_last=rt.channels_last,
    )
    if loading == "stream":
        common["workers"] = loader_workers(settings)
    loader = InMemoryLoader if loading == "memory" else StreamLoader
    train = loader(
        train_set,
        transform=transforms.build(recipe.augmentation, recipe.image_size, **shape),
        train=True,
        generator=generator,
        **common,
    )
    test = loader(
        test_set, transform=transforms.build("none", recipe.image_size, **shape), train=False, **common
    )
    return train, test, {"train": len(train_set), "test": len(test_set)}
