"""Batches from a split held in memory, augmented on the data's device.

Small datasets (CIFAR, Tiny-ImageNet, synthetic) live as one uint8 tensor, on the GPU when there
is one; crops and flips are drawn from an explicit CPU generator and applied to the whole batch
at once by indexing, so no DataLoader worker stands between the data and the model and a CPU run
draws exactly the same augmentations as a GPU run.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from bench.data.base import ImageSet

CROP_PADDING = 4  # RandomCrop(32, padding=4, padding_mode="reflect") in the CIFAR recipes


class InMemoryLoader:
    """Iterate (images, labels) batches; images normalised float, labels int64, both on `device`."""

    def __init__(
        self,
        data: ImageSet,
        *,
        batch_size: int,
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
        device: torch.device,
        train: bool,
        augmentation: str = "none",
        generator: torch.Generator | None = None,
        channels_last: bool = False,
    ) -> None:
        if train and generator is None:
            raise ValueError("a training loader needs a generator")
        self.images = data.images.to(device)
        self.labels = data.labels.to(device)
        self.batch_size = batch_size
        self.train = train
        self.augmentation = augmentation if train else "none"
        self.generator = generator
        self.channels_last = channels_last
        self.mean = torch.tensor(mean, device=device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(std, device=device).view(1, 3, 1, 1) * 255
        # Drop the ragged last batch in training (BatchNorm on a batch of 1 fails) unless it is the only one.
        self.drop_last = train and len(data) >= batch_size

    def __len__(self) -> int:
        n = len(self.labels)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        if self.train:
            order = torch.randperm(n, generator=self.generator).to(self.labels.device)
        else:
            order = torch.arange(n, device=self.labels.device)
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            yield self._prepare(self.images[idx]), self.labels[idx]

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float()
        if self.augmentation == "crop_flip":
            x = random_crop_flip(x, CROP_PADDING, self.generator)
        elif self.augmentation == "flip":
            x = random_flip(x, self.generator)
        elif self.augmentation != "none":
            raise ValueError(f"unknown augmentation {self.augmentation!r}")
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x.contiguous()


def random_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    flip = (torch.rand(x.shape[0], generator=generator) < 0.5).to(x.device)
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)


def random_crop_flip(x: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Per-sample random crop of the reflect-padded batch, then a per-sample horizontal flip."""
    b, _, h, w = x.shape
    offsets = torch.randint(0, 2 * padding + 1, (b, 2), generator=generator).to(x.device)
    flip = (torch.rand(b, generator=generator) < 0.5).to(x.device)
    padded = F.pad(x, (padding,) * 4, mode="reflect")
    rows = offsets[:, 0, None] + torch.arange(h, device=x.device)  # (B, H)
    cols = offsets[:, 1, None] + torch.arange(w, device=x.device)  # (B, W)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    batch = torch.arange(b, device=x.device)[:, None, None]
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)  # (B, C, H, W)
