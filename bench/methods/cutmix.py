"""CutMix: paste a random box from the partner image; labels mix by the box's true area.

S. Yun, D. Han, S. J. Oh, S. Chun, J. Choe, Y. Yoo, "CutMix: Regularization Strategy to Train
Strong Classifiers with Localizable Features", ICCV 2019, arXiv 1905.04899. One box and one
lambda ~ Beta(alpha, alpha) per batch; the box is clipped at the border and lambda is recomputed
from the clipped area, as in the official code. alpha = 0.2 is OpenMixup's CIFAR value.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bench.methods import sampling
from bench.methods.base import InputMix, MixSample, Paper, lam_from_mask


@dataclass(frozen=True)
class CutMixParams:
    alpha: float = 0.2  # lambda ~ Beta(alpha, alpha) before the box is clipped

    def __post_init__(self) -> None:
        if self.alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")


def box_mask(height: int, width: int, box: tuple[int, int, int, int], device: torch.device) -> torch.Tensor:
    """A (1, 1, H, W) mask that is 0 inside the box (the partner's pixels) and 1 elsewhere."""
    top, bottom, left, right = box
    mask = torch.ones(1, 1, height, width, device=device)
    mask[..., top:bottom, left:right] = 0.0
    return mask


class CutMix(InputMix):
    paper = Paper(
        "Yun et al., CutMix: Regularization Strategy to Train Strong Classifiers with Localizable Features, ICCV 2019",
        "1905.04899",
    )
    cost_target = 1.03
    Params = CutMixParams

    def sample(self, images: torch.Tensor) -> MixSample:
        _, _, height, width = images.shape
        lam = float(sampling.beta(self.p.alpha, self.ctx.generator))
        mask = box_mask(height, width, sampling.box(height, width, lam, self.ctx.generator), images.device)
        return MixSample(self.permutation(images), mask, lam_from_mask(mask, images.shape[0]))
