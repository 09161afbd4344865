"""SaliencyMix: CutMix with the box centred on the saliency peak of the image it is cut from.

A. F. M. S. Uddin, M. S. Monira, W. Shin, T. Chung, S.-H. Bae, "SaliencyMix: A Saliency Guided
Data Augmentation Strategy for Better Regularization", ICLR 2021, arXiv 2006.01791. As in the
official code (SaliencyMix/SaliencyMix, SaliencyMix_CIFAR/saliencymix.py) and OpenMixup: per batch,
lam ~ Beta(alpha, alpha) and a random permutation; the fine-grained static saliency map (Montabone
& Soto, OpenCV's StaticSaliencyFineGrained) of ONE source image, the partner of the first sample
`images[perm[0]]`, gives the peak; a CutMix box of side sqrt(1 - lam) x the image side is centred on
that peak and clipped to the image, and every sample gets its partner's pixels inside it; lambda is
recomputed from the clipped box's area. alpha = 0.2 and prob = 1 are OpenMixup's CIFAR settings
(the official CIFAR runs use alpha = 1 and mix half of the batches, `salmix_prob 0.5`).

Where we differ from the released code: it passes the normalised float32 image to OpenCV, whose
implementation reads the blurred float image with `at<uchar>`, i.e. byte by byte, so its "peak" is
not the image's saliency peak (checked with opencv-contrib 5.0: on the same image, uint8 and float
input give unrelated maps). We compute the map of the 8-bit image (the normalisation undone,
rounded), as the paper describes, with a torch port of OpenCV's algorithm that matches cv2.saliency
exactly (bench/methods/fine_grained_saliency.py), and take the first maximum of the integer map.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bench.methods import sampling
from bench.methods.base import InputMix, MixSample, Paper, lam_from_mask
from bench.methods.cutmix import box_mask
from bench.methods.fine_grained_saliency import fine_grained_saliency, peak


@dataclass(frozen=True)
class SaliencyMixParams:
    alpha: float = 0.2  # lam ~ Beta(alpha, alpha) before the box is clipped
    prob: float = 1.0  # the chance that a batch is mixed at all (official CIFAR code: 0.5)

    def __post_init__(self) -> None:
        if self.alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")
        if not 0 <= self.prob <= 1:
            raise ValueError(f"prob must be in [0, 1], got {self.prob}")


class SaliencyMix(InputMix):
    paper = Paper(
        "Uddin et al., SaliencyMix: A Saliency Guided Data Augmentation Strategy for Better Regularization, ICLR 2021",
        "2006.01791",
    )
    cost_target = 1.10
    Params = SaliencyMixParams

    def saliency_peak(self, image: torch.Tensor) -> tuple[int, int]:
        """(row, column) of the saliency peak of one normalised (3, H, W) image."""
        pixels = (self.ctx.to_pixels(image[None].float())[0] * 255).round().clamp(0, 255).to(torch.uint8)
        return peak(fine_grained_saliency(pixels))

    def sample(self, images: torch.Tensor) -> MixSample:
        batch, _, height, width = images.shape
        g = self.ctx.generator
        mixing = float(torch.rand((), generator=g)) < self.p.prob
        lam = float(sampling.beta(self.p.alpha, g))
        perm = self.permutation(images)
        if not mixing:
            return MixSample(
                perm, torch.ones(1, 1, 1, 1, device=images.device), torch.ones(batch, device=images.device)
            )
        cy, cx = self.saliency_peak(images[perm[0]])
        cut = (1.0 - lam) ** 0.5
        box = sampling.box_at(height, width, int(height * cut), int(width * cut), cy, cx)
        mask = box_mask(height, width, box, images.device)
        return MixSample(perm, mask, lam_from_mask(mask, batch))
