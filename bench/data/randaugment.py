"""RandAugment (E. D. Cubuk et al., arXiv 1909.13719) as OpenMixup's CIFAR-100 recipes run it.

The Swin-T and ConvNeXt-T columns of AdAutoMix Table 1 were trained with OpenMixup's
`RandAugment` (openmixup/datasets/pipelines/auto_augment.py) configured by
configs/classification/_base_/datasets/cifar100/{sz224,sz32}_randaug_bs100.py: the "FixMatch"
list of 14 ops, 2 ops per image, magnitude level 7 of 10 with a Gaussian spread of 0.5, fill
(114, 123, 125), bicubic resampling. Its ops call mmcv 1.7.1 and OpenCV 4.8 (the versions the
AdAutoMix Swin-T log's header names). This module repeats that behaviour on uint8 batches on any
device, with the randomness drawn up front from the job's generator like every other transform.

Per image, OpenMixup draws (and so do we, in `RandAugmentStep.sample`, 4 numbers per op):
- 2 ops uniformly from the list, with replacement (`random.choices`);
- for each op with a magnitude, a level N(7, 0.5) clipped to [0, 10], mapped linearly onto the
  op's range: value = level / 10 * (hi - lo) + lo;
- each op then applies with probability 0.5 (every op's default `prob`; Identity always "applies"
  and does nothing), and the signed ops negate their value with probability 0.5.

The ops work as mmcv computes them, not as PIL would: mmcv's grey conversion assumes BGR
while the pipeline holds RGB, so Contrast and ColorTransform weigh red and blue swapped;
Brightness, Contrast and Sharpness truncate their float result, ColorTransform rounds it; Sharpness
smooths with reflected borders; the geometric ops are OpenCV's fixed-point bicubic warp (warp.py).
tests/data/test_randaugment.py checks every op, and whole RandAugment draws, against OpenMixup's own
code run with mmcv 1.7.1 and OpenCV 4.8 (tests/fixtures/make_randaugment_reference.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from bench.data import warp
from bench.runtime import to_device

FILL = (114, 123, 125)  # hparams pad_val of the OpenMixup CIFAR configs
LEVELS = 10  # total_level
DRAWS_PER_OP = 4  # uniform (which op), normal (level), uniform (applies), uniform (sign)
APPLY_PROB = 0.5  # every op's default `prob`; the configs do not set it
NEGATE_PROB = 0.5  # every signed op's default `random_negative_prob`
GRAY = (1868, 9617, 4899, 14)  # OpenCV's BGR2GRAY fixed point (B, G, R weights, shift), applied to RGB
SMOOTH = ((1, 1, 1), (1, 5, 1), (1, 1, 1))  # mmcv.adjust_sharpness's kernel (/ 13), PIL's SMOOTH

Apply = Callable[[torch.Tensor, list[float]], torch.Tensor]  # (uint8 (B, 3, H, W), values) -> uint8


# --- pixel ops: mmcv 1.7.1's arithmetic ------------------------------------------------------


def _per_image(values: list[float], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    return to_device(torch.tensor(values, dtype=torch.float64).to(dtype), device).view(-1, 1, 1, 1)


def _gray(x: torch.Tensor) -> torch.Tensor:
    """cv2.cvtColor(img, COLOR_BGR2GRAY) on the RGB array mmcv is given: int32 (B, 1, H, W)."""
    b, g, r, shift = GRAY
    x = x.to(torch.int32)
    return (x[:, 0:1] * b + x[:, 1:2] * g + x[:, 2:3] * r + (1 << (shift - 1))) >> shift


def _blend_truncated(x: torch.Tensor, other: torch.Tensor, factors: list[float]) -> torch.Tensor:
    """cv2.addWeighted(img.astype(float32), f, other.astype(float32), 1 - f, 0), clipped to
    [0, 255] and truncated by astype(uint8): mmcv's Brightness, Contrast and Sharpness. OpenCV 4.8
    computes a * f + b * (1 - f) in float64 with the factors as given and rounds the sum to float32."""
    f = _per_image(factors, x.device, torch.float64)
    g = _per_image([1 - v for v in factors], x.device, torch.float64)
    out = (x.double() * f + other.double() * g).float()
    return out.clamp_(0, 255).floor_().to(torch.uint8)


def brightness(x: torch.Tensor, values: list[float]) -> torch.Tensor:
    """mmcv.adjust_brightness(img, 1 + value): blend with black."""
    return _blend_truncated(x, torch.zeros_like(x), [1 + v for v in values])


def contrast(x: torch.Tensor, values: list[float]) -> torch.Tensor:
    """mmcv.adjust_contrast(img, 1 + value): blend with the rounded mean of the grey image."""
    gray = _gray(x)
    pixels = gray.shape[2] * gray.shape[3]
    mean = torch.round(gray.double().sum(dim=(1, 2, 3), keepdim=True) / pixels)  # round(): half to even
    return _blend_truncated(x, mean.expand_as(x), [1 + v for v in values])


def color(x: torch.Tensor, values: list[float]) -> torch.Tensor:
    """mmcv.adjust_color(img, 1 + value): cv2.addWeighted on uint8 (float32 fused multiply-adds,
    then rounded half to even and saturated) of the image and its grey version."""
    alpha = [1 + v for v in values]
    a = _per_image(alpha, x.device, torch.float32).double()
    b = _per_image([1 - v for v in alpha], x.device, torch.float32)
    inner = (_gray(x).to(torch.float32) * b).double()
    out = (x.double() * a + inner).float()
    return torch.round(out).clamp_(0, 255).to(torch.uint8)


def sharpness(x: torch.Tensor, values: list[float]) -> torch.Tensor:
    """OpenMixup's adjust_sharpness(img, 1 + value): blend with cv2.filter2D(img, -1, SMOOTH / 13)
    (float32 kernel, fused multiply-adds in row-major kernel order, reflect-101 borders, rounded)."""
    kernel = torch.tensor(SMOOTH, dtype=torch.float64) / 13
    weights = kernel.float().double().flatten().tolist()  # the float32 kernel OpenCV converts to
    padded = torch.nn.functional.pad(x.double(), (1, 1, 1, 1), mode="reflect")
    h, w = x.shape[2:]
    acc = torch.zeros_like(x, dtype=torch.float32)
    for k, weight in enumerate(weights):
        i, j = divmod(k, 3)
        acc = (acc.double() + padded[:, :, i : i + h, j : j + w] * weight).float()
    smoothed = torch.round(acc).clamp_(0, 255)
    return _blend_truncated(x, smoothed, [1 + v for v in values])


def autocontrast(x: torch.Tensor, values: list[float]) -> torch.Tensor:
    """OpenMixup's auto_contrast (cutoff 0): per channel, stretch [min, max] to [0, 255] with a
    float64 look-up table, truncated; a flat channel is kept."""
    low = x.amin(dim=(2, 3), keepdim=True).double()
    high = x.amax(dim=(2, 3), keepdim=True).double()
    flat = low >= high
    # a true division: `255.0 / tensor` would multiply by the reciprocal, one rounding more than numpy
    scale = torch.full_like(high, 255.0).div(torch.where(flat, torch.ones_like(high), high - low))
    offset = -low * scale
    stretched = (x.double() * scale + offset).clamp_(0, 255).floor_().to(torch.uint8)
    return torch.where(flat, x, stretched)


def equalize(x: torch.Tensor, values: list[float]) -> torch.Tensor:
    """mmcv.imequalize: per channel, PIL's histogram equalisation in integer arithmetic."""
    b, c, h, w = x.shape
    flat = x.reshape(b * c, h * w).to(torch.int64)
    hist = torch.zeros(b * c, 256, dtype=torch.int64, device=x.device).scatter_add_(
        1, flat, torch.ones_like(flat)
    )
    top = flat.amax(dim=1, keepdim=True)  # the last non-empty bin
    step = (h * w - hist.gather(1, top)) // 255
    safe = step.clamp(min=1)
    lut = (hist.cumsum(1) + safe // 2) // safe
    lut = torch.cat([torch.zeros_like(lut[:, :1]), lut[:, :-1]], dim=1).clamp_(max=255)
    out = torch.where(step == 0, flat, lut.gather(1, flat))
    return out.to(torch.uint8).view(b, c, h, w)


def posterize(x: torch.Tensor, values: list[float]) -> torch.Tensor:
    """mmcv.posterize(img, int(value)): keep the top `bits` bits."""
    shift = _per_image([8 - int(v) for v in values], x.device, torch.uint8)
    return (x >> shift) << shift


def solarize(x: torch.Tensor, values: list[float]) -> torch.Tensor:
    """mmcv.solarize(img, thr): invert the pixels >= thr."""
    thr = _per_image(values, x.device, torch.float64)
    return torch.where(x.double() < thr, x, 255 - x)


def identity(x: torch.Tensor, values: list[float]) -> torch.Tensor:
    return x


def _warp(matrix: Callable[[float, int, int], warp.Matrix]) -> Apply:
    def apply(x: torch.Tensor, values: list[float]) -> torch.Tensor:
        h, w = x.shape[2:]
        return warp.warp_affine(x, [matrix(v, h, w) for v in values], FILL)

    return apply


rotate = _warp(lambda angle, h, w: warp.rotation(angle, h, w))  # mmcv.imrotate, clockwise
shear_x = _warp(lambda m, h, w: warp.shear(m, horizontal=True))  # mmcv.imshear
shear_y = _warp(lambda m, h, w: warp.shear(m, horizontal=False))
translate_x = _warp(lambda m, h, w: warp.translation(m * w, horizontal=True))  # mmcv.imtranslate
translate_y = _warp(lambda m, h, w: warp.translation(m * h, horizontal=False))


# --- the policy ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One entry of the policy list: `value_range` (lo, hi) maps a level onto the op's argument
    (None: the op takes none); `signed` ops negate it half the time."""

    name: str
    apply: Apply
    value_range: tuple[float, float] | None = None
    signed: bool = False


# The FixMatch list of the OpenMixup CIFAR-100 RandAugment configs, in their order.
FIXMATCH_OPENMIXUP: tuple[Op, ...] = (
    Op("AutoContrast", autocontrast),
    Op("Brightness", brightness, (0.05, 0.95), signed=True),
    Op("ColorTransform", color, (0.05, 0.95), signed=True),
    Op("Contrast", contrast, (0.05, 0.95), signed=True),
    Op("Equalize", equalize),
    Op("Identity", identity),
    Op("Posterize", posterize, (4, 8)),
    Op("Rotate", rotate, (0, 30), signed=True),
    Op("Sharpness", sharpness, (0.05, 0.95), signed=True),
    Op("ShearX", shear_x, (0, 0.3), signed=True),
    Op("ShearY", shear_y, (0, 0.3), signed=True),
    Op("Solarize", solarize, (256, 0)),
    Op("TranslateX", translate_x, (0, 0.3), signed=True),
    Op("TranslateY", translate_y, (0, 0.3), signed=True),
)
POLICIES = {"fixmatch_openmixup": FIXMATCH_OPENMIXUP}


@dataclass(frozen=True)
class Draw:
    """One op slot of one image, decoded from its DRAWS_PER_OP numbers."""

    op: int  # index into the policy
    applied: bool
    value: float  # the op's signed argument (0 for ops without one)


@dataclass(frozen=True)
class RandAugmentStep:
    """A random step of transforms.Transform: `ops` ops per image from `policy`. Parameters:
    DRAWS_PER_OP numbers per op, in order (see `decode`)."""

    ops: int = 2
    magnitude: float = 7.0
    magnitude_std: float = 0.5
    policy: str = "fixmatch_openmixup"

    @property
    def width(self) -> int:
        return self.ops * DRAWS_PER_OP

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        uniforms = torch.rand(n, self.ops, 3, generator=generator, dtype=torch.float64)
        normals = torch.randn(n, self.ops, generator=generator, dtype=torch.float64)
        draws = torch.stack([uniforms[..., 0], normals, uniforms[..., 1], uniforms[..., 2]], dim=-1)
        return draws.reshape(n, self.width)

    def decode(self, params: list[float]) -> list[Draw]:
        """One image's draws, as OpenMixup's RandAugment turns its random numbers into ops:
        choices -> floor(u * len), gauss(m, std) -> m + std * z clipped to [0, LEVELS], applied
        when u <= APPLY_PROB (it skips when rand() > prob), negated when u < NEGATE_PROB."""
        ops = POLICIES[self.policy]
        draws = []
        for k in range(self.ops):
            u_op, z, u_apply, u_sign = params[k * DRAWS_PER_OP : (k + 1) * DRAWS_PER_OP]
            op = min(int(u_op * len(ops)), len(ops) - 1)
            value = 0.0
            if ops[op].value_range is not None:
                level = self.magnitude
                if self.magnitude_std > 0:
                    level = min(LEVELS, max(0.0, level + self.magnitude_std * z))
                lo, hi = ops[op].value_range
                value = (level / LEVELS) * (hi - lo) + lo
                if ops[op].signed and u_sign < NEGATE_PROB:
                    value = -value
            draws.append(Draw(op, u_apply <= APPLY_PROB and ops[op].name != "Identity", value))
        return draws

    def batch(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """The ops on a uint8 batch: slot by slot, each op on the images that drew it at once."""
        decoded = [self.decode(row) for row in params.tolist()]
        ops = POLICIES[self.policy]
        for k in range(self.ops):
            for index, op in enumerate(ops):
                chosen = [i for i, draws in enumerate(decoded) if draws[k].op == index and draws[k].applied]
                if not chosen:
                    continue
                rows = to_device(torch.tensor(chosen), x.device)
                values = [decoded[i][k].value for i in chosen]
                x = x.index_copy(0, rows, op.apply(x.index_select(0, rows), values))
        return x

    def one(self, img: Image.Image, p: list[float]) -> Image.Image:
        x = torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1)[None].contiguous()
        y = self.batch(x, torch.tensor([p], dtype=torch.float64))[0].permute(1, 2, 0)
        return Image.fromarray(y.contiguous().numpy())
