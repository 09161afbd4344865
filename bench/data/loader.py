"""Batches from a split held in memory, augmented on the data's device; and the epoch plan that
every loader follows.

Small datasets (CIFAR, Tiny-ImageNet, synthetic) live as one uint8 tensor, on the GPU when there
is one. Each epoch, `plan` draws the order and then, batch by batch, the augmentation parameters
from the job's CPU generator; the transform applies them to the whole batch at once on the
device. No DataLoader worker stands between the data and the model, and a CPU run draws exactly
the augmentations of a GPU run. The DataLoader path (stream.py) follows the same plan, so both
paths yield the same samples for the same seed.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from bench.data.base import ImageSet
from bench.data.transforms import Transform
from bench.runtime import to_device

PREPARE_CHUNK = 1024  # images resized at a time when a split is prepared at load


def num_batches(n: int, batch_size: int, train: bool) -> int:
    """Training drops the ragged last batch (BatchNorm on a batch of 1 fails) unless it is the only one."""
    if train and n >= batch_size:
        return n // batch_size
    return -(-n // batch_size)


def plan(
    n: int, batch_size: int, train: bool, transform: Transform, generator: torch.Generator | None
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """One epoch: (indices, augmentation parameters) per batch. Training shuffles with `generator`
    and draws each batch's parameters from it, in this order; testing is in order, unaugmented."""
    order = torch.randperm(n, generator=generator) if train else torch.arange(n)
    for i in range(num_batches(n, batch_size, train)):
        idx = order[i * batch_size : (i + 1) * batch_size]
        yield idx, transform.sample(len(idx), generator) if train else None


class Normalize:
    """uint8 images -> float (x / 255 - mean) / std, in the memory format the model uses."""

    def __init__(self, mean, std, device: torch.device, channels_last: bool) -> None:
        self.mean = torch.tensor(mean, device=device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(std, device=device).view(1, 3, 1, 1) * 255
        self.channels_last = channels_last

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(torch.float32, copy=True).sub_(self.mean).div_(self.std)  # = (x - m) / s exactly
        return x.contiguous(
            memory_format=torch.channels_last if self.channels_last else torch.contiguous_format
        )


class InMemoryLoader:
    """Iterate (images, labels) batches; images normalised float, labels int64, both on `device`."""

    def __init__(
        self,
        data: ImageSet,
        *,
        transform: Transform,
        batch_size: int,
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
        device: torch.device,
        train: bool,
        generator: torch.Generator | None = None,
        channels_last: bool = False,
    ) -> None:
        if train and generator is None:
            raise ValueError("a training loader needs a generator")
        images = data.images.to(device)
        if len(images) and not transform.skips_prepare(*images.shape[2:]):
            # the transform's deterministic step (a resize to the recipe's size) once, not every epoch
            chunks = range(0, len(images), PREPARE_CHUNK)
            images = torch.cat([transform.prepared(images[i : i + PREPARE_CHUNK]) for i in chunks])
        self.images = images
        self.labels = data.labels.to(device)
        self.transform = transform
        self.batch_size = batch_size
        self.train = train
        self.generator = generator
        self.normalize = Normalize(mean, std, device, channels_last)

    def __len__(self) -> int:
        return num_batches(len(self.labels), self.batch_size, self.train)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for idx, params in plan(
            len(self.labels), self.batch_size, self.train, self.transform, self.generator
        ):
            idx = to_device(idx, self.labels.device)
            # index_select: the same rows as images[idx], 8x faster on a CPU (no advanced-indexing kernel)
            batch = self.images.index_select(0, idx)
            yield self.normalize(self.transform.augment(batch, params)), self.labels.index_select(0, idx)
