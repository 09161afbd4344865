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

from bench import schema
from bench.data import transforms
from bench.data.base import DatasetSpec, FileIndex, Split
from bench.data.decoded import cached
from bench.data.loader import InMemoryLoader
from bench.data.randaugment import RandAugmentStep
from bench.data.stream import StreamLoader
from bench.recipe import RandAugmentSettings, Recipe
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


def _split(
    dataset: DatasetSpec, name: str, image_size: int, fraction: float, settings: Settings, loading: str
) -> Split:
    data = dataset.load(settings.data_root, name, image_size)
    if loading == "memory" and isinstance(data, FileIndex):
        data = cached(data, settings.decoded_cache_dir, dataset.name, name)  # the whole split, once
    return data.subset(fraction)


def make_loader(
    dataset: DatasetSpec,
    data: Split,
    augmentation: str,
    image_size: int,
    batch_size: int,
    device: torch.device,
    *,
    generator: torch.Generator | None = None,
    channels_last: bool = False,
    workers: int = 0,
    loading: Literal["memory", "stream"] | None = None,
    crop_scale: tuple[float, float] | None = None,
    randaugment: RandAugmentSettings | None = None,
) -> Batches:
    """Batches of `data` with `dataset`'s transform named `augmentation` (random when a generator
    is given, i.e. for training), with the recipe's crop scale and RandAugment if any: in memory
    for an ImageSet, through a DataLoader with `workers` for a FileIndex, unless `loading` says
    otherwise."""
    transform = transforms.build(
        augmentation,
        image_size,
        interpolation=dataset.interpolation,
        eval_crop=dataset.eval_crop,
        crop_scale=crop_scale,
        randaugment=None if randaugment is None else RandAugmentStep(**schema.to_plain(randaugment)),
    )
    common = dict(
        transform=transform,
        batch_size=batch_size,
        mean=dataset.mean,
        std=dataset.std,
        device=device,
        train=generator is not None,
        generator=generator,
        channels_last=channels_last,
    )
    if (loading or ("stream" if isinstance(data, FileIndex) else "memory")) == "memory":
        return InMemoryLoader(data, **common)
    return StreamLoader(data, workers=workers, **common)


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
    size = recipe.image_size
    train_set = _split(dataset, "train", size, recipe.train_fraction, settings, loading)
    train = make_loader(
        dataset,
        train_set,
        recipe.augmentation,
        size,
        recipe.batch_size,
        rt.device,
        generator=generator,
        channels_last=rt.channels_last,
        workers=loader_workers(settings),
        loading=loading,
        crop_scale=recipe.crop_scale,
        randaugment=recipe.randaugment,
    )
    test, test_size = eval_loader(
        dataset, size, recipe.batch_size, settings, rt, recipe.test_fraction, loading
    )
    return train, test, {"train": len(train_set), "test": test_size}


def eval_loader(
    dataset: DatasetSpec,
    image_size: int,
    batch_size: int,
    settings: Settings,
    rt: Runtime,
    fraction: float = 1.0,
    loading: Literal["memory", "stream"] | None = None,
) -> tuple[Batches, int]:
    """(test batches with the dataset's test transform, number of test images)."""
    loading = loading or dataset.loading
    data = _split(dataset, "test", image_size, fraction, settings, loading)
    batches = make_loader(
        dataset,
        data,
        "none",
        image_size,
        batch_size,
        rt.device,
        channels_last=rt.channels_last,
        workers=loader_workers(settings),
        loading=loading,
    )
    return batches, len(data)
