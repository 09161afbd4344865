"""A seeded synthetic image dataset, for smoke runs and tests: no download, any resolution.

Each of the 10 classes is a fixed arrangement of three coloured Gaussian blobs. A sample shifts
and jitters its class's blobs, adds two distractor blobs borrowed from other classes, a random
colour gradient and pixel noise; then 10% of the labels are redrawn uniformly (train and test
alike). So no model can score much above ~91%, and a tiny network trained for a few epochs lands
well between chance and that ceiling: methods can be told apart instead of all saturating.
The data depend only on the split and the image size, never on the job's seed.
"""

from __future__ import annotations

from pathlib import Path

import torch

from bench.data.base import DatasetSpec, ImageSet

NUM_CLASSES = 10
SIZES = {"train": 2048, "test": 1024}
LABEL_NOISE = 0.10
_DATASET_SEED = 20240
_BLOBS = 3


def _class_prototypes(gen: torch.Generator) -> dict[str, torch.Tensor]:
    return {
        "centre": 0.2 + 0.6 * torch.rand(NUM_CLASSES, _BLOBS, 2, generator=gen),
        "colour": torch.rand(NUM_CLASSES, _BLOBS, 3, generator=gen),
        "radius": 0.10 + 0.10 * torch.rand(NUM_CLASSES, _BLOBS, generator=gen),
    }


def _render(centre: torch.Tensor, colour: torch.Tensor, radius: torch.Tensor, size: int) -> torch.Tensor:
    """Sum of Gaussian blobs: centre (N, K, 2), colour (N, K, 3), radius (N, K) -> (N, 3, S, S)."""
    axis = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    dy = yy[None, None] - centre[..., 0, None, None]
    dx = xx[None, None] - centre[..., 1, None, None]
    weight = torch.exp(-(dx**2 + dy**2) / (2 * radius[..., None, None] ** 2))  # (N, K, S, S)
    return torch.einsum("nkhw,nkc->nchw", weight, colour)


def generate(split: str, image_size: int) -> ImageSet:
    proto = _class_prototypes(torch.Generator().manual_seed(_DATASET_SEED))
    gen = torch.Generator().manual_seed(_DATASET_SEED + (1 if split == "train" else 2))
    n = SIZES[split]
    labels = torch.arange(n) % NUM_CLASSES
    labels = labels[torch.randperm(n, generator=gen)]
    shift = (torch.rand(n, 1, 2, generator=gen) - 0.5) * 0.3
    centre = proto["centre"][labels] + shift + (torch.rand(n, _BLOBS, 2, generator=gen) - 0.5) * 0.1
    colour = (proto["colour"][labels] + 0.25 * torch.randn(n, _BLOBS, 3, generator=gen)).clamp(0, 1)
    radius = proto["radius"][labels] * (0.8 + 0.4 * torch.rand(n, _BLOBS, generator=gen))
    image = _render(centre, colour, radius, image_size)
    # Distractors: two blobs of a random other class's palette at random places.
    other = torch.randint(NUM_CLASSES, (n, 2), generator=gen)
    d_colour = proto["colour"][other, torch.randint(_BLOBS, (n, 2), generator=gen)]
    d_centre = torch.rand(n, 2, 2, generator=gen)
    image += 0.8 * _render(d_centre, d_colour, torch.full((n, 2), 0.12), image_size)
    gradient = torch.rand(n, 3, 1, 1, generator=gen) * torch.linspace(0, 1, image_size).view(1, 1, 1, -1)
    image += 0.5 * gradient + 0.12 * torch.randn(n, 3, image_size, image_size, generator=gen)
    images = (image.clamp(0, 1.5) / 1.5 * 255).round().to(torch.uint8)
    noisy = torch.rand(n, generator=gen) < LABEL_NOISE
    labels = torch.where(noisy, torch.randint(NUM_CLASSES, (n,), generator=gen), labels)
    return ImageSet(images, labels, [f"class{i}" for i in range(NUM_CLASSES)])


def _read(folder: Path, split: str, image_size: int) -> ImageSet:
    return generate(split, image_size)


SYNTHETIC = DatasetSpec(
    name="synthetic",
    num_classes=NUM_CLASSES,
    image_size=16,
    mean=(0.5, 0.5, 0.5),
    std=(0.25, 0.25, 0.25),
    augmentation="crop_flip",
    augmentations=("crop_flip", "flip", "none"),
    folder="",
    layout="  (generated in memory from a fixed seed; nothing on disk)",
    required=(),
    reader=_read,
    split_sizes=SIZES,
)
