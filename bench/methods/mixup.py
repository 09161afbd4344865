"""MixUp: convex combinations of image pairs and of their labels.

H. Zhang, M. Cisse, Y. N. Dauphin, D. Lopez-Paz, "mixup: Beyond Empirical Risk Minimization",
ICLR 2018, arXiv 1710.09412. As in the reference code and OpenMixup, one lambda ~ Beta(alpha, alpha)
per batch and a random permutation of the batch as partners. alpha = 1 is OpenMixup's CIFAR value.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bench.methods import sampling
from bench.methods.base import InputMix, MixSample, Paper
from bench.runtime import to_device


@dataclass(frozen=True)
class MixUpParams:
    alpha: float = 1.0  # lambda ~ Beta(alpha, alpha)

    def __post_init__(self) -> None:
        if self.alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")


class MixUp(InputMix):
    paper = Paper("Zhang et al., mixup: Beyond Empirical Risk Minimization, ICLR 2018", "1710.09412")
    cost_target = 1.03
    Params = MixUpParams

    def sample(self, images: torch.Tensor) -> MixSample:
        lam = sampling.beta(self.p.alpha, self.ctx.generator)
        lam = to_device(lam, images.device)
        return MixSample(self.permutation(images), lam.reshape(1, 1, 1, 1), lam.expand(images.shape[0]))
