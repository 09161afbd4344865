"""GridMix: a grid of rectangular holes inside a random crop is filled from the partner image.

K. Baek, D. Bang, H. Shim, "GridMix: Strong regularization through local context mapping",
Pattern Recognition 109 (2021) 107594 (no arXiv version). We follow what OpenMixup's benchmark runs
(its `gridmix.py`, which follows I. Dobrynin's GridMixup code rather than the paper's local
context loss): per batch, lam ~ Beta(alpha, alpha), a crop of area cut_area_ratio x H x W and
aspect cut_aspect_ratio at a uniform position, and a grid of n_holes columns of square-ish
patches (patch height = patch width x hole_aspect_ratio) over the crop; in each patch the top-left
hole of side sqrt(1 - lam) x the patch side (at least 1 pixel, at most the patch side minus 1)
shows the partner. The label weights are the exact pixel shares of the resulting mask.
n_holes, hole_aspect_ratio, cut_area_ratio and cut_aspect_ratio are drawn uniformly per batch
from their ranges (OpenMixup's defaults); alpha = 0.2 is OpenMixup's CIFAR value.

Where we differ from OpenMixup: with cut_aspect_ratio up to 2 and cut_area_ratio near 1 its crop
can be taller (or wider) than the image, and Python's slicing then wraps the negative start
indices around; we clip the crop to the image instead. OpenMixup fails an assertion when the crop
is narrower than 2 x n_holes pixels (small images); we draw n_holes from its range capped at what
the crop allows, and reject at suite validation a range whose smallest value never fits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from bench.methods import sampling
from bench.methods.base import InputMix, MixSample, Paper, lam_from_mask
from bench.runtime import to_device


@dataclass(frozen=True)
class GridMixParams:
    alpha: float = 0.2  # lam ~ Beta(alpha, alpha): about the share of each patch kept from the original
    n_holes: tuple[int, int] = (2, 6)  # grid columns, drawn uniformly from this range (inclusive)
    hole_aspect_ratio: tuple[float, float] = (1.0, 1.0)  # patch height / width
    cut_area_ratio: tuple[float, float] = (0.5, 1.0)  # crop area / image area
    cut_aspect_ratio: tuple[float, float] = (0.5, 2.0)  # crop height / width

    def __post_init__(self) -> None:
        if self.alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")
        for key in ("n_holes", "hole_aspect_ratio", "cut_area_ratio", "cut_aspect_ratio"):
            low, high = getattr(self, key)
            if not 0 < low <= high:
                raise ValueError(f"{key} must be a range [low, high] with 0 < low <= high, got {[low, high]}")
        if self.cut_area_ratio[1] > 1:
            raise ValueError(f"cut_area_ratio must be within (0, 1], got {list(self.cut_area_ratio)}")


def crop_size(height: int, width: int, area_ratio: float, aspect_ratio: float) -> tuple[int, int]:
    """(height, width) of the crop, as the reference code sizes it, clipped to the image."""
    crop_w = int(math.sqrt(int(height * width * area_ratio) / aspect_ratio))
    return min(int(crop_w * aspect_ratio), height), min(crop_w, width)


def grid_holes(height: int, width: int, lam: float, n_holes: int, hole_aspect: float) -> torch.Tensor:
    """A (height, width) mask of the crop: 1 in the holes (the partner's pixels), 0 elsewhere."""
    patch_w = math.ceil(width / n_holes)
    patch_h = max(int(patch_w * hole_aspect), 1)
    side = math.sqrt(1.0 - lam)
    hole_w = min(max(int(patch_w * side), 1), patch_w - 1)
    hole_h = min(max(int(patch_h * side), 1), patch_h - 1)
    rows = (torch.arange(height) % patch_h) < hole_h
    cols = (torch.arange(width) % patch_w) < hole_w
    return (rows[:, None] & cols[None, :]).float()


class GridMix(InputMix):
    paper = Paper(
        "Baek et al., GridMix: Strong regularization through local context mapping, Pattern Recognition 2021 (OpenMixup's GridMixup variant)"
    )
    cost_target = 1.03
    Params = GridMixParams

    @classmethod
    def check_compatible(cls, *, backbone: str, dataset: str, image_size: int, params: Any = None) -> None:
        p = params or cls.Params()
        _, narrowest = crop_size(image_size, image_size, p.cut_area_ratio[0], p.cut_aspect_ratio[1])
        if p.n_holes[0] > narrowest // 2:
            raise ValueError(
                f"n_holes: a grid needs at least 2 pixels per column, but with cut_area_ratio >= "
                f"{p.cut_area_ratio[0]} and cut_aspect_ratio <= {p.cut_aspect_ratio[1]} a crop of a "
                f"{image_size} px image can be {narrowest} px wide, which fits at most {narrowest // 2} "
                f"columns; lower n_holes (now {list(p.n_holes)}) or use larger images"
            )

    def sample(self, images: torch.Tensor) -> MixSample:
        _, _, height, width = images.shape
        g = self.ctx.generator
        lam = float(sampling.beta(self.p.alpha, g))
        hole_aspect = sampling.uniform(*self.p.hole_aspect_ratio, g)
        area, aspect = (
            sampling.uniform(*self.p.cut_area_ratio, g),
            sampling.uniform(*self.p.cut_aspect_ratio, g),
        )
        crop_h, crop_w = crop_size(height, width, area, aspect)
        most = max(min(self.p.n_holes[1], crop_w // 2), 1)  # at least 2 pixels per grid column
        fewest = min(self.p.n_holes[0], most)
        n_holes = fewest + int(sampling.randint(most - fewest + 1, g))
        top = int((height - crop_h) * sampling.uniform(0.0, 1.0, g))
        left = int((width - crop_w) * sampling.uniform(0.0, 1.0, g))
        mask = torch.ones(1, 1, height, width)
        holes = grid_holes(crop_h, crop_w, lam, n_holes, hole_aspect)
        mask[0, 0, top : top + crop_h, left : left + crop_w] -= holes
        mask = to_device(mask, images.device)
        return MixSample(self.permutation(images), mask, lam_from_mask(mask, images.shape[0]))
