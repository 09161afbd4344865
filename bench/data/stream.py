"""Batches decoded and augmented by DataLoader workers, for datasets too large to hold in memory.

The main process iterates the same epoch `plan` as the in-memory path: the order and every
augmentation parameter come from the job's generator there, and each worker receives
(index, parameters) and runs the transform's PIL implementation on one image. Workers hold no
randomness of their own, so the batches are those the in-memory path would give for the same
seed, whatever the number of workers. Workers are persistent and batches are pinned when the
model is on a GPU; normalisation happens on the device.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from bench.data.base import DataError, Split
from bench.data.loader import Normalize, num_batches, plan
from bench.data.transforms import Transform


class _Items(Dataset):
    """dataset[(i, params)] -> (uint8 image (3, S, S), label): one decoded, transformed sample."""

    def __init__(self, data: Split, transform: Transform) -> None:
        self.data = data
        self.transform = transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, key: tuple[int, list[float] | None]) -> tuple[torch.Tensor, int]:
        i, params = key
        return self.transform.one(self.data.pil(i), params), int(self.data.labels[i])


class _Plan:
    """A batch sampler yielding each batch of the epoch plan as [(index, parameters), ...]."""

    def __init__(
        self, n: int, batch_size: int, train: bool, transform: Transform, generator: torch.Generator | None
    ) -> None:
        self.args = (n, batch_size, train, transform, generator)

    def __len__(self) -> int:
        n, batch_size, train, _, _ = self.args
        return num_batches(n, batch_size, train)

    def __iter__(self) -> Iterator[list[tuple[int, list[float] | None]]]:
        for idx, params in plan(*self.args):
            rows = params.tolist() if params is not None else [None] * len(idx)
            yield list(zip(idx.tolist(), rows))


class StreamLoader:
    """Iterate (images, labels) batches like InMemoryLoader, decoding in `workers` processes."""

    def __init__(
        self,
        data: Split,
        *,
        transform: Transform,
        batch_size: int,
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
        device: torch.device,
        train: bool,
        generator: torch.Generator | None = None,
        channels_last: bool = False,
        workers: int = 0,
    ) -> None:
        if train and generator is None:
            raise ValueError("a training loader needs a generator")
        self.device = device
        self.normalize = Normalize(mean, std, device, channels_last)
        self.loader = DataLoader(
            _Items(data, transform),
            batch_sampler=_Plan(len(data), batch_size, train, transform, generator),
            num_workers=workers,
            pin_memory=device.type == "cuda",
            persistent_workers=workers > 0,
            prefetch_factor=4 if workers > 0 else None,
            # the loader draws its workers' base seed from this private generator, not from the
            # global RNG (which would shift dropout or drop-path draws between the two paths)
            generator=torch.Generator().manual_seed(0),
        )

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        try:
            for images, labels in self.loader:
                images = images.to(self.device, non_blocking=True)
                yield self.normalize(images), labels.to(self.device, non_blocking=True)
        except DataError as exc:
            message = str(exc)
            if message.startswith("Caught DataError"):  # re-raised from a worker, with its traceback
                message = message.rstrip().splitlines()[-1].split("DataError: ", 1)[-1]
            raise DataError(message) from None
