"""FMix: a binary mask cut from a random low-frequency image; labels mix by its exact pixel share.

E. Harris, A. Marcu, M. Painter, M. Niranjan, A. Prügel-Bennett, J. Hare, "FMix: Enhancing Mixed
Sample Data Augmentation", arXiv 2002.12047. Sample complex Gaussian noise in Fourier space, scale
it by 1/f^decay_power (frequencies below 1/max(H, W) count as 1/max(H, W)), take the real inverse
FFT, and set the top lam share of its pixels to 1 (kept from the original image), the rest to 0
(taken from the partner). One mask and one lam ~ Beta(alpha, alpha) per batch, a random
permutation as partners. alpha = 0.2 is OpenMixup's CIFAR value (the paper uses 1).

Where the released code (ecs-vlc/FMix, copied by OpenMixup) differs from the paper, we follow the
code, which produced the published numbers, unless `spectrum: paper` is set:
* it builds the complex spectrum as `spectrum[:, 0] + 1j * spectrum[:, 1]`, which on the 2-D
  (1, H, W/2+1, 2) array takes rows 0 and 1 of the frequency grid, not the real and imaginary
  parts; the inverse FFT then sees a (W/2+1, 2) spectrum, so its masks vary with at most one
  horizontal period (`spectrum: released`; checked once against the released code fed the same
  noise: equal to 1e-15).
  `spectrum: paper` uses the full isotropic 2-D spectrum the paper describes.
* it rounds lam * H * W up or down at random and then labels the mix with the sampled lam; we
  round the same way but label with the mask's exact pixel share (at most one pixel different).
The optional soft edges (`max_soft`, 0 in every benchmark) and the reformulated
Beta(alpha + 1, alpha) lambda are not implemented.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from bench.methods import sampling
from bench.methods.base import InputMix, MixSample, Paper, lam_from_mask
from bench.runtime import to_device


@dataclass(frozen=True)
class FMixParams:
    alpha: float = 0.2  # lam ~ Beta(alpha, alpha): the share of pixels kept from the original
    decay_power: float = 3.0  # the spectrum decays as 1/f^decay_power; larger: smoother masks
    spectrum: Literal["released", "paper"] = "released"  # see the module docstring

    def __post_init__(self) -> None:
        if self.alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")
        if self.decay_power <= 0:
            raise ValueError(f"decay_power must be > 0, got {self.decay_power}")


def low_frequency_image(
    height: int, width: int, decay_power: float, generator: torch.Generator, spectrum: str = "released"
) -> torch.Tensor:
    """A (H, W) real image whose spectrum falls off as 1/f^decay_power, from `generator`."""
    columns = width // 2 + 2 if width % 2 else width // 2 + 1  # the released code's frequency grid
    fy = torch.fft.fftfreq(height, dtype=torch.float64)[:, None]
    fx = torch.fft.fftfreq(width, dtype=torch.float64)[None, :columns]
    scale = torch.sqrt(fx**2 + fy**2).clamp(min=1.0 / max(height, width)) ** -decay_power
    if spectrum == "paper":
        noise = torch.randn(height, columns, 2, generator=generator, dtype=torch.float64)
        coefficients = torch.complex(scale * noise[..., 0], scale * noise[..., 1])
    else:  # rows 0 and 1 of the scaled noise grid become the real and imaginary parts
        noise = torch.randn(2, columns, 2, generator=generator, dtype=torch.float64)
        scaled = scale[:2, :, None] * noise
        coefficients = torch.complex(scaled[0], scaled[1])  # (W/2+1, 2)
    return torch.fft.irfft2(coefficients, s=(height, width))


def top_share_mask(image: torch.Tensor, lam: float, generator: torch.Generator) -> torch.Tensor:
    """1 on the round(lam * N) largest pixels of `image` (rounded up or down with equal odds, as
    the reference code), 0 elsewhere."""
    n = image.numel()
    keep = math.ceil(lam * n) if float(torch.rand((), generator=generator)) < 0.5 else math.floor(lam * n)
    mask = torch.zeros(n)
    mask[image.flatten().argsort(descending=True)[:keep]] = 1.0
    return mask.view_as(image)


class FMix(InputMix):
    paper = Paper("Harris et al., FMix: Enhancing Mixed Sample Data Augmentation, 2020", "2002.12047")
    cost_target = 1.03
    Params = FMixParams

    def sample(self, images: torch.Tensor) -> MixSample:
        _, _, height, width = images.shape
        lam = float(sampling.beta(self.p.alpha, self.ctx.generator))
        image = low_frequency_image(height, width, self.p.decay_power, self.ctx.generator, self.p.spectrum)
        mask = to_device(top_share_mask(image, lam, self.ctx.generator)[None, None], images.device)
        return MixSample(self.permutation(images), mask, lam_from_mask(mask, images.shape[0]))
