"""ResizeMix: paste a shrunken copy of the whole partner image into a random box; labels by area.

J. Qin, J. Fang, Q. Zhang, W. Liu, X. Wang, X. Wang, "ResizeMix: Mixing Data with Preserved Object
Information and True Labels", arXiv 2012.11101. The paper draws the scale tau ~ U(0.1, 0.8), shrinks
the partner to tau x the image side and pastes it at a random place; the label weights are the
areas. No official code was released; we follow OpenMixup's implementation and its CIFAR config
(`use_alpha=True`, alpha = 1): tau ~ Beta(alpha, alpha), redrawn from U(scope) when it falls outside
`scope` (with alpha = 1 this is exactly the paper's U(0.1, 0.8)); one box per batch, centred on a
uniform pixel and clipped to the image as CutMix's box; the whole partner is resized (nearest
neighbour, OpenMixup's default) to the clipped box, and lambda is recomputed from the box's area.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from bench.methods import sampling
from bench.methods.base import InputMix, MixSample, Paper, lam_from_mask
from bench.methods.cutmix import box_mask


@dataclass(frozen=True)
class ResizeMixParams:
    alpha: float = 1.0  # tau ~ Beta(alpha, alpha), redrawn uniformly in `scope` when outside it
    scope: tuple[float, float] = (0.1, 0.8)  # range of tau, the pasted side as a fraction of the image
    interpolation: Literal["nearest", "bilinear"] = "nearest"  # how the partner is shrunk

    def __post_init__(self) -> None:
        if self.alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")
        low, high = self.scope
        if not 0 <= low <= high <= 1:
            raise ValueError(f"scope must satisfy 0 <= low <= high <= 1, got {list(self.scope)}")


class ResizeMix(InputMix):
    paper = Paper(
        "Qin et al., ResizeMix: Mixing Data with Preserved Object Information and True Labels, 2020",
        "2012.11101",
    )
    cost_target = 1.03
    Params = ResizeMixParams

    def sample(self, images: torch.Tensor) -> MixSample:
        batch, _, height, width = images.shape
        g = self.ctx.generator
        tau = float(sampling.beta(self.p.alpha, g))
        if not self.p.scope[0] <= tau <= self.p.scope[1]:
            tau = sampling.uniform(*self.p.scope, g)
        cy, cx = int(sampling.randint(height, g)), int(sampling.randint(width, g))
        top, bottom, left, right = sampling.box_at(height, width, int(height * tau), int(width * tau), cy, cx)
        perm = self.permutation(images)
        partner = torch.zeros_like(images)  # only the box is ever shown
        if bottom > top and right > left:
            size = (bottom - top, right - left)
            partner[:, :, top:bottom, left:right] = F.interpolate(
                images[perm], size, mode=self.p.interpolation
            )
        mask = box_mask(height, width, (top, bottom, left, right), images.device)
        return MixSample(perm, mask, lam_from_mask(mask, batch), partner=partner)
