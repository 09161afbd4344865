"""Fine-grained static saliency (Montabone & Soto), computed in torch exactly as OpenCV does it.

S. Montabone, A. Soto, "Human detection using a mobile platform and novel features derived from a
visual saliency mechanism", Image and Vision Computing 28(3), 2010; implemented in OpenCV-contrib as
`cv2.saliency.StaticSaliencyFineGrained` (modules/saliency/src/staticSaliencyFineGrained.cpp),
which SaliencyMix calls. Reimplemented here so that SaliencyMix needs neither opencv-contrib nor
a particular install order of the OpenCV wheels (they all write the same `cv2` package):

1. gray = BGR2GRAY of the 8-bit image (OpenCV 5's 15-bit fixed-point weights), then two 3x3
   Gaussian blurs (weights [1, 2, 1] x [1, 2, 1] / 16, rounded, reflect-101 borders);
2. for each neighbourhood n in (12, 24, 48, 28, 56, 112): the mean of the box of rows y-n+1 .. y+n
   and columns x-n+1 .. x+n (clipped to the image, read off the integral image) without the centre
   pixel, and the centre-surround differences on = gray - mean, off = mean - gray, each truncated
   to 8 bits where positive;
3. on and off are summed over the six scales, each normalised by its maximum to 0..255, added
   and normalised again by the larger of the two maxima.

Arithmetic follows the C++ code step by step (float32 box sums and divisions, truncating casts),
so the maps equal OpenCV's on 8-bit input: tests/methods/test_saliencymix.py checks them against
maps that cv2.saliency computed (tests/fixtures/fine_grained_saliency.npz).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

NEIGHBOURHOODS = (12, 24, 48, 28, 56, 112)


def rgb_to_gray(rgb: torch.Tensor) -> torch.Tensor:
    """(3, H, W) uint8 RGB -> (H, W) int64 gray, as cv2.cvtColor(BGR image, COLOR_BGR2GRAY) in
    OpenCV 5 (15-bit fixed-point weights; other OpenCV versions may round a few pixels differently)."""
    r, g, b = rgb.long().unbind(0)
    return (r * 9798 + g * 19235 + b * 3735 + (1 << 14)) >> 15


def blur3(gray: torch.Tensor) -> torch.Tensor:
    """cv2.GaussianBlur(gray, (3, 3), 0) on 8-bit data: the rounded [1, 2, 1]^2 / 16 filter."""
    kernel = torch.tensor([1.0, 2.0, 1.0], dtype=torch.float64)
    padded = F.pad(gray.double()[None, None], (1, 1, 1, 1), mode="reflect")  # reflect-101
    summed = F.conv2d(padded, (kernel[:, None] * kernel[None, :])[None, None])[0, 0]
    return (summed.round().long() + 8) >> 4  # the sums are integers; round half up after / 16


def _uchar(x: torch.Tensor) -> torch.Tensor:
    """C's (uchar) cast of a positive float as x86 compilers emit it: truncate, keep the low byte."""
    return torch.nan_to_num(x, nan=0.0, posinf=0.0).trunc().long() & 0xFF


def fine_grained_saliency(rgb: torch.Tensor) -> torch.Tensor:
    """(3, H, W) uint8 RGB image -> (H, W) int64 saliency map in 0..255 (OpenCV's map x 255)."""
    gray = blur3(blur3(rgb_to_gray(rgb.cpu())))
    height, width = gray.shape
    integral = F.pad(gray.double().cumsum(0).cumsum(1), (1, 0, 1, 0)).float()  # (H + 1, W + 1), as CV_32F
    centre = gray.float()
    rows, cols = torch.arange(height), torch.arange(width)
    on_sum = torch.zeros(height, width, dtype=torch.long)
    off_sum = torch.zeros(height, width, dtype=torch.long)
    for n in NEIGHBOURHOODS:
        y1, y2 = (rows - n + 1).clamp(0, height), (rows + n + 1).clamp(0, height)  # corners in the integral
        x1, x2 = (cols - n + 1).clamp(0, width), (cols + n + 1).clamp(0, width)
        box = integral[y2][:, x2] + integral[y1][:, x1] - integral[y2][:, x1] - integral[y1][:, x2]
        area = ((y2 - y1)[:, None] * (x2 - x1)[None, :] - 1).float()
        mean = (box - centre) / area
        on, off = centre - mean, mean - centre
        on_sum += torch.where(on > 0, _uchar(on), 0)
        off_sum += torch.where(off > 0, _uchar(off), 0)
    on8 = _uchar((on_sum.float() / on_sum.max().float()).double() * 255.0)
    off8 = _uchar((off_sum.float() / off_sum.max().float()).double() * 255.0)
    top = float(torch.maximum(on8.max(), off8.max()).float())
    return _uchar(255.0 * (on8 + off8).double() / top)


def peak(saliency: torch.Tensor) -> tuple[int, int]:
    """(row, column) of the first maximum in row-major order, as numpy's argmax."""
    index = int(torch.argmax(saliency.flatten()))  # torch returns the first maximal index
    return divmod(index, saliency.shape[1])
