"""OpenCV's `warpAffine` with bicubic interpolation and a constant border, on a uint8 batch.

The geometric RandAugment ops of the OpenMixup recipes (rotate, shear, translate) call mmcv's
`imrotate`, `imshear` and `imtranslate`, which call `cv2.warpAffine(..., flags=INTER_CUBIC,
borderValue=fill)`. That function works in fixed point, and this module repeats its arithmetic
(OpenCV 4.x imgwarp.cpp, `WarpAffineInvoker` + `remapBicubic`), so that a batch on any device gives
the pixels of OpenCV 4.8, the version behind the published runs (tests/data/test_randaugment.py
compares them with mmcv 1.7.1 on OpenCV 4.8; OpenCV 4.11 and later warp with other arithmetic and
differ from 4.8 by up to 4 levels wherever a source position falls between pixels):

- the forward matrix is inverted in float64;
- each output pixel's source position is computed with 10 fractional bits per row and column
  (`AB_BITS`), then kept with 5 (`INTER_BITS`): 32 sub-pixel positions per axis;
- the 4 x 4 bicubic weights (A = -0.75) of each of the 32 x 32 sub-pixel positions are computed in
  float32, rounded to 15-bit fixed point, and nudged so that each set sums to exactly 1;
- taps outside the image read the fill value; the sum is rounded and clipped to 8 bits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache

import numpy as np
import torch

from bench.runtime import to_device

INTER_BITS = 5  # OpenCV's sub-pixel precision of a source position
INTER_TAB_SIZE = 1 << INTER_BITS
AB_BITS = 10  # max(10, INTER_BITS): the precision of the incremental position computation
AB_SCALE = 1 << AB_BITS
ROUND_DELTA = AB_SCALE // INTER_TAB_SIZE // 2  # for every interpolation but nearest
COEF_BITS = 15  # INTER_REMAP_COEF_BITS: the fixed-point precision of the weights
COEF_SCALE = 1 << COEF_BITS
CUBIC_A = np.float32(-0.75)

Matrix = tuple[float, float, float, float, float, float]  # (m00, m01, m02, m10, m11, m12), forward


def _cubic_coefficients(x: np.ndarray) -> np.ndarray:
    """OpenCV's interpolateCubic for float32 fractions `x`, each operation rounded to float32."""
    a, one = CUBIC_A, np.float32(1)
    x1 = x + one
    c0 = ((a * x1 - np.float32(5) * a) * x1 + np.float32(8) * a) * x1 - np.float32(4) * a
    c1 = ((a + np.float32(2)) * x - (a + np.float32(3))) * x * x + one
    r = one - x
    c2 = ((a + np.float32(2)) * r - (a + np.float32(3))) * r * r + one
    c3 = one - c0 - c1 - c2
    return np.stack([c0, c1, c2, c3], axis=-1)  # (N, 4) float32


@cache
def cubic_table() -> torch.Tensor:
    """(32 * 32, 16) int32: the fixed-point 4 x 4 weights of sub-pixel position fy * 32 + fx, as
    OpenCV's initInterTab2D builds them (row-major taps)."""
    fractions = np.arange(INTER_TAB_SIZE, dtype=np.float32) * np.float32(1.0 / INTER_TAB_SIZE)
    one_d = _cubic_coefficients(fractions)  # (32, 4)
    table = np.zeros((INTER_TAB_SIZE, INTER_TAB_SIZE, 4, 4), dtype=np.int64)
    for fy in range(INTER_TAB_SIZE):
        for fx in range(INTER_TAB_SIZE):
            products = one_d[fy][:, None] * one_d[fx][None, :]  # float32, as OpenCV's vy * vx
            weights = np.rint(products * np.float32(COEF_SCALE)).astype(np.int64)
            table[fy, fx] = _balanced(weights)
    return torch.from_numpy(table.reshape(INTER_TAB_SIZE * INTER_TAB_SIZE, 16).astype(np.int32))


def _balanced(w: np.ndarray) -> np.ndarray:
    """Make the 4 x 4 weights sum to COEF_SCALE: OpenCV puts the rounding error on the smallest
    (error > 0) or largest (error < 0) of the weights at rows and columns ksize/2 and ksize/2 + 1
    (2 and 3: not the central four), scanned in row-major order."""
    diff = int(w.sum()) - COEF_SCALE
    if diff == 0:
        return w
    low = high = (2, 2)
    for k in ((2, 2), (2, 3), (3, 2), (3, 3)):
        if w[k] < w[low]:
            low = k
        elif w[k] > w[high]:
            high = k
    w = w.copy()
    if diff < 0:
        w[high] -= diff
    else:
        w[low] -= diff
    return w


def inverse(m: Matrix) -> Matrix:
    """warpAffine's inversion of the forward matrix, operation by operation in float64."""
    m00, m01, m02, m10, m11, m12 = m
    d = m00 * m11 - m01 * m10
    d = 1.0 / d if d != 0 else 0.0
    a11, a22 = m11 * d, m00 * d
    i00, i01, i10, i11 = a11, m01 * -d, m10 * -d, a22
    b1 = -i00 * m02 - i01 * m12
    b2 = -i10 * m02 - i11 * m12
    return (i00, i01, b1, i10, i11, b2)


def rotation(angle: float, height: int, width: int) -> Matrix:
    """mmcv.imrotate's matrix: cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), -angle, 1);
    a positive `angle` turns the image clockwise."""
    cx, cy = (width - 1) * 0.5, (height - 1) * 0.5
    radians = -angle * (math.pi / 180)
    alpha, beta = math.cos(radians), math.sin(radians)
    return (alpha, beta, (1 - alpha) * cx - beta * cy, -beta, alpha, beta * cx + (1 - alpha) * cy)


def _f32(v: float) -> float:
    return float(np.float32(v))


def shear(magnitude: float, horizontal: bool) -> Matrix:
    """mmcv.imshear's float32 matrix: x' = x + m * y (horizontal) or y' = y + m * x (vertical)."""
    m = _f32(magnitude)
    return (1.0, m, 0.0, 0.0, 1.0, 0.0) if horizontal else (1.0, 0.0, 0.0, m, 1.0, 0.0)


def translation(offset: float, horizontal: bool) -> Matrix:
    """mmcv.imtranslate's float32 matrix: shift by `offset` pixels right (or down)."""
    t = _f32(offset)
    return (1.0, 0.0, t, 0.0, 1.0, 0.0) if horizontal else (1.0, 0.0, 0.0, 0.0, 1.0, t)


def _source_positions(matrices: Sequence[Matrix], height: int, width: int) -> tuple[np.ndarray, ...]:
    """Per image, OpenCV's fixed-point source positions split by axis: (X0 (B, H), adelta (B, W),
    Y0 (B, H), bdelta (B, W)); the position of output (y, x) is (X0[y] + adelta[x]) >> 5."""
    inv = np.array([inverse(m) for m in matrices], dtype=np.float64)  # (B, 6)
    xs = np.arange(width, dtype=np.float64)[None, :]
    ys = np.arange(height, dtype=np.float64)[None, :]
    adelta = np.rint(inv[:, 0:1] * xs * AB_SCALE)
    bdelta = np.rint(inv[:, 3:4] * xs * AB_SCALE)
    x0 = np.rint((inv[:, 1:2] * ys + inv[:, 2:3]) * AB_SCALE) + ROUND_DELTA
    y0 = np.rint((inv[:, 4:5] * ys + inv[:, 5:6]) * AB_SCALE) + ROUND_DELTA
    return tuple(a.astype(np.int64) for a in (x0, adelta, y0, bdelta))


def warp_affine(x: torch.Tensor, matrices: Sequence[Matrix], fill: Sequence[int]) -> torch.Tensor:
    """uint8 (B, C, H, W) -> uint8 (B, C, H, W): image b warped by the forward matrix `matrices[b]`
    as cv2.warpAffine(img, M, (W, H), flags=cv2.INTER_CUBIC, borderValue=fill) computes it."""
    b, c, h, w = x.shape
    if b == 0:
        return x
    device = x.device
    x0, adelta, y0, bdelta = (
        to_device(torch.from_numpy(a), device) for a in _source_positions(matrices, h, w)
    )
    px = (x0[:, :, None] + adelta[:, None, :]) >> (AB_BITS - INTER_BITS)  # (B, H, W), 5 fractional bits
    py = (y0[:, :, None] + bdelta[:, None, :]) >> (AB_BITS - INTER_BITS)
    weights = to_device(cubic_table(), device)[
        ((py & (INTER_TAB_SIZE - 1)) << INTER_BITS) + (px & (INTER_TAB_SIZE - 1))
    ]
    sx, sy = (px >> INTER_BITS) - 1, (py >> INTER_BITS) - 1  # the top-left of the 4 x 4 taps
    flat = x.reshape(b, c, h * w).to(torch.int32)
    border = torch.tensor(list(fill), dtype=torch.int32, device=device).view(1, c, 1)
    acc = torch.zeros(b, c, h * w, dtype=torch.int32, device=device)
    for i in range(4):
        rows = sy + i
        for j in range(4):
            cols = sx + j
            inside = ((rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)).view(b, 1, h * w)
            index = (rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)).view(b, 1, h * w).expand(b, c, h * w)
            taps = torch.where(inside, flat.gather(2, index), border)
            acc += taps * weights[..., 4 * i + j].view(b, 1, h * w).to(torch.int32)
    out = (acc + (1 << (COEF_BITS - 1))) >> COEF_BITS
    return out.clamp_(0, 255).to(torch.uint8).view(b, c, h, w)
