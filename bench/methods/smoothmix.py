"""SmoothMix: blend in the partner through a soft Gaussian blob instead of a hard-edged box.

J.-H. Lee, M. Z. Zaheer, M. Astrid, S.-I. Lee, "SmoothMix: a Simple Yet Effective Data
Augmentation to Train Robust Classifiers", CVPR Workshops 2020 (no arXiv version). As in OpenMixup's
benchmark (its `smoothmix.py`, the paper's "circle" mask): per batch, one isotropic Gaussian
G = exp(-d^2 / (2 sigma^2)) with peak 1, centred on a uniformly drawn pixel, with
sigma ~ U(0.25, 0.5) x the image height; the partner is shown with weight G and the original with
1 - G.

Label direction (we follow the paper): the paper mixes x = G * x_a + (1 - G) * x_b and labels it
lam * y_a + (1 - lam) * y_b with lam = mean(G), so each label is weighted by its image's pixel
share. OpenMixup weights the partner by G but gives lam = mean(G) to the original's label, which
inverts the weights (a blob covering 20% of the image gives the background image 20% of the label);
we give the original 1 - mean(G), its true pixel share. OpenMixup's blob centre sits half a pixel
off the pixel grid (`(H - 1) / 2 + randint(H) - H / 2`); we use the pixel grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bench.methods import sampling
from bench.methods.base import InputMix, MixSample, Paper, lam_from_mask
from bench.runtime import to_device


@dataclass(frozen=True)
class SmoothMixParams:
    sigma: tuple[float, float] = (0.25, 0.5)  # blob width, as a fraction of the image height, drawn uniformly

    def __post_init__(self) -> None:
        low, high = self.sigma
        if not 0 < low <= high:
            raise ValueError(
                f"sigma must be a range [low, high] with 0 < low <= high, got {list(self.sigma)}"
            )


def gaussian_blob(height: int, width: int, cy: float, cx: float, sigma: float) -> torch.Tensor:
    """(H, W) exp(-((y - cy)^2 + (x - cx)^2) / (2 sigma^2)), in pixel units."""
    y = torch.arange(height, dtype=torch.float32)[:, None] - cy
    x = torch.arange(width, dtype=torch.float32)[None, :] - cx
    return torch.exp(-(y**2 + x**2) / (2 * sigma**2))


class SmoothMix(InputMix):
    paper = Paper(
        "Lee et al., SmoothMix: a Simple Yet Effective Data Augmentation to Train Robust Classifiers, CVPR Workshops 2020"
    )
    cost_target = 1.03
    Params = SmoothMixParams

    def sample(self, images: torch.Tensor) -> MixSample:
        _, _, height, width = images.shape
        g = self.ctx.generator
        cy, cx = int(sampling.randint(height, g)), int(sampling.randint(width, g))
        sigma = sampling.uniform(*self.p.sigma, g) * height
        mask = to_device((1.0 - gaussian_blob(height, width, cy, cx, sigma))[None, None], images.device)
        return MixSample(self.permutation(images), mask, lam_from_mask(mask, images.shape[0]))
