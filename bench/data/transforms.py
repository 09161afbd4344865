"""Image transforms with their randomness drawn up front, run on one PIL image or on a whole batch.

A transform is a deterministic `prepare` step (a resize, or resize + centre crop) followed by an
optional random step (pad-crop-flip, random-resized-crop + flip, flip; any of them followed by
RandAugment, randaugment.py, through `Chain`). The random step's
parameters come from `sample(n, generator)`, called with the job's generator in the main process;
applying them uses no randomness. Each step has two implementations that give the same pixels:

- `one`: one PIL image, with PIL's crop, resize and transpose: what DataLoader workers run, and
  the operations of torchvision's PIL pipeline (RandomResizedCrop, Resize, CenterCrop,
  RandomHorizontalFlip) that the papers' OpenMixup configs ran. A resize is done as two 1-D PIL
  resizes, columns then rows, because Pillow 13 chooses the pass order of a 2-D resize itself
  (Pillow <= 12 always did columns first); the two orders differ by a level or two in a few pixels.
- `batch`: a uint8 batch (B, C, H, W) on any device, for the in-memory path. Resampling is a
  replica of PIL's 1-D resampler (Resample.c: antialiased filters, coefficients in float64, then
  22-bit fixed point, each pass rounded to 8 bits). That arithmetic is integer, so the result does
  not depend on the batch size, the device or the summation order: a batch on the GPU is
  bit-identical to PIL on each image (tests/data/test_transforms.py checks it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from bench.data.randaugment import RandAugmentStep
from bench.runtime import to_device

CROP_PADDING = 4  # RandomCrop(32, padding=4, padding_mode="reflect") in the CIFAR recipes
RRC_ATTEMPTS = 10  # torchvision's RandomResizedCrop tries 10 boxes, then falls back to a centre crop
RRC_PARAMS = 2 * RRC_ATTEMPTS + 3  # area and aspect per attempt, top, left, flip
RATIO = (3 / 4, 4 / 3)
PRECISION_BITS = 32 - 8 - 2  # PIL's fixed-point precision for 8-bit images

AUGMENTATIONS = {
    "crop_flip": "random crop of the 4-px reflect-padded image + horizontal flip (CIFAR recipe)",
    "rrc_flip": "RandomResizedCrop, scale (0.08, 1) unless crop_scale says, ratio (3/4, 4/3) + horizontal flip",
    "resize_rrc_flip": "resize the shorter side to size/0.875, then RandomResizedCrop scale (0.5, 1) + flip",
    "flip": "the test transform + horizontal flip",
    "none": "the test transform only",
}
RRC_AUGMENTATIONS = {"rrc_flip": (0.08, 1.0), "resize_rrc_flip": (0.5, 1.0)}  # their default crop scales
PIL_FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}


def _triangle(x: np.ndarray) -> np.ndarray:
    x = np.abs(x)
    return np.where(x < 1.0, 1.0 - x, 0.0)


def _cubic(x: np.ndarray) -> np.ndarray:
    a = -0.5  # PIL's bicubic
    x = np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


_KERNELS = {"bilinear": (1.0, _triangle), "bicubic": (2.0, _cubic)}


@dataclass(frozen=True)
class Taps:
    """1-D resampling per sample: out[b, i] = sum_t weight[b, i, t] * in[b, first[b, i] + t] (fixed point)."""

    first: torch.Tensor  # (B, S) int64
    weight: torch.Tensor  # (B, S, T) int64, PRECISION_BITS fractional bits; zero past each output's taps

    def shifted(self, offset: np.ndarray) -> Taps:
        return Taps(self.first + torch.as_tensor(offset, dtype=torch.int64)[:, None], self.weight)

    def flipped(self, flip: np.ndarray) -> Taps:
        f = torch.as_tensor(flip, dtype=torch.bool)
        return Taps(
            torch.where(f[:, None], self.first.flip(1), self.first),
            torch.where(f[:, None, None], self.weight.flip(1), self.weight),
        )

    def outputs(self, start: int, stop: int) -> Taps:
        return Taps(self.first[:, start:stop], self.weight[:, start:stop])


def taps(size: np.ndarray, out: int, interpolation: str) -> Taps:
    """PIL's precompute_coeffs for resizing an axis of `size` pixels (per sample, shape (B,)) to
    `out` pixels: the same float64 operations in the same order, then PIL's fixed point."""
    support, kernel = _KERNELS[interpolation]
    size = np.asarray(size, dtype=np.float64)
    scale = size / out
    filterscale = np.maximum(scale, 1.0)
    radius = support * filterscale
    centre = (np.arange(out) + 0.5)[None, :] * scale[:, None]  # (B, S); PIL adds the box start: 0
    xmin = np.maximum(np.trunc(centre - radius[:, None] + 0.5), 0.0)
    xmax = np.minimum(np.trunc(centre + radius[:, None] + 0.5), size[:, None])
    count = (xmax - xmin).astype(np.int64)
    width = max(int(count.max()), 1)
    tap = np.arange(width)
    w = kernel((xmin[..., None] + tap - centre[..., None] + 0.5) * (1.0 / filterscale)[:, None, None])
    w = np.where(tap < count[..., None], w, 0.0)
    total = np.zeros_like(centre)
    for t in range(width):  # sequential, as PIL sums
        total = total + w[..., t]
    w = w / np.where(total == 0.0, 1.0, total)[..., None]
    fixed = np.trunc(w * (1 << PRECISION_BITS) + np.where(w < 0, -0.5, 0.5))
    return Taps(torch.from_numpy(xmin.astype(np.int64)), torch.from_numpy(fixed.astype(np.int64)))


def _matrix(t: Taps, size: int, device: torch.device) -> torch.Tensor:
    """The taps as a dense (B, S, size) float64 matrix of fixed-point weights."""
    first, weight = to_device(t.first, device), to_device(t.weight, device)
    index = (first[..., None] + torch.arange(weight.shape[-1], device=device)).clamp_(max=size - 1)
    m = torch.zeros(*first.shape, size, dtype=torch.float64, device=device)
    return m.scatter_add_(2, index, weight.double())  # padded taps add 0 to a clamped column


def _rounded(acc: torch.Tensor) -> torch.Tensor:
    """PIL's clip8((acc + 2^(P-1)) >> P), on exact integers held in float64."""
    return torch.floor((acc + (1 << (PRECISION_BITS - 1))) / (1 << PRECISION_BITS)).clamp_(0, 255)


def resample(x: torch.Tensor, rows: Taps | None, cols: Taps | None) -> torch.Tensor:
    """uint8 (B, C, H, W) -> uint8 (B, C, rows.S, cols.S): PIL's passes, columns then rows (a None
    axis is kept). Pixels and weights are integers below 2^31 and their sums below 2^53, so float64
    matmuls compute PIL's integer sums exactly, in any order, on any device."""
    y = x.double()
    if cols is not None:
        y = _rounded(y @ _matrix(cols, x.shape[3], x.device).transpose(1, 2)[:, None])
    if rows is not None:
        y = _rounded(_matrix(rows, x.shape[2], x.device)[:, None] @ y)
    return y.to(torch.uint8)


def _full(b: int, n: int) -> np.ndarray:
    return np.full(b, n)


def _pil_resize(img: Image.Image, width: int, height: int, interpolation: str) -> Image.Image:
    """PIL resize as two 1-D passes in a fixed order, columns then rows (see the module docstring)."""
    if width != img.width:
        img = img.resize((width, img.height), PIL_FILTERS[interpolation])
    if height != img.height:
        img = img.resize((img.width, height), PIL_FILTERS[interpolation])
    return img


# --- deterministic steps: uint8 batch -> uint8 batch, PIL image -> PIL image ------------------


@dataclass(frozen=True)
class Resize:
    """Resize to size x size (fixed-size datasets at another resolution; identity at their own)."""

    size: int
    interpolation: str

    def skips(self, h: int, w: int) -> bool:
        return (h, w) == (self.size, self.size)

    def one(self, img: Image.Image) -> Image.Image:
        return _pil_resize(img, self.size, self.size, self.interpolation)

    def batch(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        if self.skips(h, w):
            return x
        rows = taps(_full(b, h), self.size, self.interpolation) if h != self.size else None
        cols = taps(_full(b, w), self.size, self.interpolation) if w != self.size else None
        return resample(x, rows, cols)


@dataclass(frozen=True)
class ResizeShorter:
    """torchvision's Resize(size): the shorter side to `size`, the longer one in proportion."""

    size: int
    interpolation: str

    def output_size(self, h: int, w: int) -> tuple[int, int]:
        if h <= w:
            return self.size, int(self.size * w / h)
        return int(self.size * h / w), self.size

    def skips(self, h: int, w: int) -> bool:
        return self.output_size(h, w) == (h, w)

    def one(self, img: Image.Image) -> Image.Image:
        oh, ow = self.output_size(img.height, img.width)
        return _pil_resize(img, ow, oh, self.interpolation)

    def batch(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        oh, ow = self.output_size(h, w)
        rows = taps(_full(b, h), oh, self.interpolation) if oh != h else None
        cols = taps(_full(b, w), ow, self.interpolation) if ow != w else None
        return resample(x, rows, cols)


@dataclass(frozen=True)
class ResizeCenterCrop:
    """Resize the shorter side to floor(size / crop_fraction), then centre-crop size x size
    (torchvision's Resize(256) + CenterCrop(224), the ImageNet-style test transform)."""

    size: int
    crop_fraction: float
    interpolation: str

    @property
    def resize(self) -> ResizeShorter:
        return ResizeShorter(math.floor(self.size / self.crop_fraction), self.interpolation)

    def skips(self, h: int, w: int) -> bool:
        return False

    def _corner(self, h: int, w: int) -> tuple[int, int]:
        rh, rw = self.resize.output_size(h, w)
        return round((rh - self.size) / 2.0), round((rw - self.size) / 2.0)

    def one(self, img: Image.Image) -> Image.Image:
        top, left = self._corner(img.height, img.width)
        return self.resize.one(img).crop((left, top, left + self.size, top + self.size))

    def batch(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        rh, rw = self.resize.output_size(h, w)
        top, left = self._corner(h, w)
        # the resize's coefficients for the output pixels the crop keeps: resize-then-crop exactly
        rows = taps(_full(b, h), rh, self.interpolation).outputs(top, top + self.size)
        cols = taps(_full(b, w), rw, self.interpolation).outputs(left, left + self.size)
        return resample(x, rows, cols)


Prepare = Resize | ResizeShorter | ResizeCenterCrop


# --- random steps: parameters from `sample`; uint8 batch -> uint8 batch, PIL -> PIL -------------


@dataclass(frozen=True)
class Flip:
    """RandomHorizontalFlip. Parameters: (flip,)."""

    width = 1

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return (torch.rand(n, generator=generator) < 0.5).double()[:, None]

    def one(self, img: Image.Image, p: list[float]) -> Image.Image:
        return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if p[0] else img

    def batch(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        flip = to_device(params[:, 0].bool(), x.device)
        return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)


@dataclass(frozen=True)
class PadCropFlip:
    """RandomCrop(own size, padding, reflect) then RandomHorizontalFlip. Parameters: (dy, dx, flip)."""

    padding: int = CROP_PADDING
    width = 3

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        offsets = torch.randint(0, 2 * self.padding + 1, (n, 2), generator=generator)
        flip = torch.rand(n, generator=generator) < 0.5
        return torch.cat([offsets, flip[:, None]], dim=1).double()

    def one(self, img: Image.Image, p: list[float]) -> Image.Image:
        x = torch.from_numpy(np.array(img)).permute(2, 0, 1)[None]
        y = self.batch(x, torch.tensor([p]))[0].permute(1, 2, 0)
        return Image.fromarray(y.contiguous().numpy())

    def batch(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        p = to_device(params, x.device)
        offsets, flip = p[:, :2].long() - self.padding, p[:, 2].bool()
        # index the unpadded batch with reflected coordinates: no padded copy, no float round trip
        rows = _reflect(offsets[:, 0, None] + torch.arange(h, device=x.device), h)  # (B, H)
        cols = _reflect(offsets[:, 1, None] + torch.arange(w, device=x.device), w)  # (B, W)
        cols = torch.where(flip[:, None], cols.flip(1), cols)
        x = x.gather(2, rows[:, None, :, None].expand(b, c, h, w))  # two gathers: 4x faster on a CPU
        return x.gather(3, cols[:, None, None, :].expand(b, c, h, w))  # than one 4-D advanced index


def _reflect(i: torch.Tensor, n: int) -> torch.Tensor:
    """Coordinates in [-n + 1, 2n - 1) reflected into [0, n), as padding_mode="reflect" (no edge repeat)."""
    i = i.abs()
    return torch.where(i >= n, 2 * (n - 1) - i, i)


def rrc_box(
    height: int, width: int, u: list[float], scale: tuple[float, float], ratio: tuple[float, float] = RATIO
) -> tuple[int, int, int, int]:
    """torchvision's RandomResizedCrop.get_params, driven by the uniforms `u` instead of an RNG.

    u[2k], u[2k+1] draw the area and log-aspect of attempt k; u[20], u[21] the position of the
    box. Returns (top, left, h, w).
    """
    area = height * width
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for k in range(RRC_ATTEMPTS):
        target = area * (scale[0] + u[2 * k] * (scale[1] - scale[0]))
        aspect = math.exp(log_lo + u[2 * k + 1] * (log_hi - log_lo))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            top = min(int(u[20] * (height - h + 1)), height - h)
            left = min(int(u[21] * (width - w + 1)), width - w)
            return top, left, h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, round(width / min(ratio))
    elif in_ratio > max(ratio):
        h, w = height, round(height * max(ratio))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


@dataclass(frozen=True)
class ResizedCropFlip:
    """RandomResizedCrop(size, scale, ratio 3/4..4/3) then RandomHorizontalFlip.
    Parameters: RRC_PARAMS uniforms (see rrc_box; the last one flips when < 0.5)."""

    size: int
    scale: tuple[float, float]
    interpolation: str
    width = RRC_PARAMS

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.rand(n, RRC_PARAMS, generator=generator, dtype=torch.float64)

    def one(self, img: Image.Image, p: list[float]) -> Image.Image:
        top, left, h, w = rrc_box(img.height, img.width, p, self.scale)
        out = _pil_resize(img.crop((left, top, left + w, top + h)), self.size, self.size, self.interpolation)
        return out.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if p[-1] < 0.5 else out

    def batch(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        _, _, h, w = x.shape
        u = params.tolist()
        top, left, bh, bw = np.array([rrc_box(h, w, row, self.scale) for row in u]).T
        flip = np.array([row[-1] < 0.5 for row in u])
        # crop, then resize the crop: the filters read only inside the box, as PIL's crop + resize
        rows = taps(bh, self.size, self.interpolation).shifted(top)
        cols = taps(bw, self.size, self.interpolation).shifted(left).flipped(flip)
        return resample(x, rows, cols)


@dataclass(frozen=True)
class Chain:
    """Random steps one after the other (a crop and flip, then RandAugment, as the OpenMixup
    pipelines order them). Parameters: each step's, concatenated in order; drawn in that order."""

    steps: tuple[Flip | PadCropFlip | ResizedCropFlip | RandAugmentStep, ...]

    @property
    def width(self) -> int:
        return sum(step.width for step in self.steps)

    def _split(self, params: torch.Tensor) -> list[torch.Tensor]:
        return list(params.split([step.width for step in self.steps], dim=-1))

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.cat([step.sample(n, generator) for step in self.steps], dim=1)

    def one(self, img: Image.Image, p: list[float]) -> Image.Image:
        for step, part in zip(self.steps, self._split(torch.tensor(p, dtype=torch.float64))):
            img = step.one(img, part.tolist())
        return img

    def batch(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        for step, part in zip(self.steps, self._split(params)):
            x = step.batch(x, part)
        return x


Random = Flip | PadCropFlip | ResizedCropFlip | RandAugmentStep | Chain


@dataclass(frozen=True)
class Transform:
    """`prepare` (deterministic) then `random` (parameters from `sample`); uint8 in, uint8 out."""

    prepare: Prepare | None
    random: Random | None

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor | None:
        return None if self.random is None else self.random.sample(n, generator)

    def skips_prepare(self, h: int, w: int) -> bool:
        return self.prepare is None or self.prepare.skips(h, w)

    def prepared(self, x: torch.Tensor) -> torch.Tensor:
        """The deterministic step on a uint8 batch; the in-memory path runs it once, at load."""
        if self.skips_prepare(x.shape[2], x.shape[3]):
            return x
        return self.prepare.batch(x)

    def augment(self, x: torch.Tensor, params: torch.Tensor | None) -> torch.Tensor:
        """The random step on a prepared uint8 batch (one image size)."""
        return x if self.random is None else self.random.batch(x, params)

    def one(self, img: Image.Image, params: list[float] | None) -> torch.Tensor:
        """Both steps on one RGB PIL image, as uint8 (C, H, W): what a DataLoader worker runs."""
        if self.prepare is not None:
            img = self.prepare.one(img)
        if self.random is not None:
            img = self.random.one(img, params)
        return torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1)


def build(
    augmentation: str,
    image_size: int,
    *,
    interpolation: str,
    eval_crop: float | None,
    crop_scale: tuple[float, float] | None = None,
    randaugment: RandAugmentStep | None = None,
) -> Transform:
    """The transform named `augmentation` at `image_size`; 'none' is the test transform.

    `eval_crop` None: fixed-size datasets, whose test transform resizes to image_size (the
    identity at the native size, "64 px, no crop"); a fraction such as 0.875: resize the shorter
    side to image_size / fraction, then centre-crop (ImageNet-style, 256 then 224). `crop_scale`
    replaces a RandomResizedCrop's area range (rrc augmentations only); `randaugment` runs after
    the augmentation's random step, as in the OpenMixup pipelines.
    """
    if crop_scale is not None and augmentation not in RRC_AUGMENTATIONS:
        raise ValueError(
            f"crop_scale applies to a RandomResizedCrop; augmentation {augmentation!r} has none "
            f"(those that have: {', '.join(RRC_AUGMENTATIONS)})"
        )
    transform = _augmentation(augmentation, image_size, interpolation, eval_crop, crop_scale)
    if randaugment is None:
        return transform
    steps = () if transform.random is None else (transform.random,)
    return Transform(transform.prepare, Chain((*steps, randaugment)))


def _augmentation(
    augmentation: str,
    image_size: int,
    interpolation: str,
    eval_crop: float | None,
    crop_scale: tuple[float, float] | None,
) -> Transform:
    if eval_crop is None:
        test: Prepare = Resize(image_size, interpolation)
    else:
        test = ResizeCenterCrop(image_size, eval_crop, interpolation)
    if augmentation == "none":
        return Transform(test, None)
    if augmentation == "flip":
        return Transform(test, Flip())
    if augmentation == "crop_flip":
        return Transform(test, PadCropFlip())
    if augmentation == "rrc_flip":
        scale = crop_scale or RRC_AUGMENTATIONS[augmentation]
        return Transform(None, ResizedCropFlip(image_size, scale, interpolation))
    if augmentation == "resize_rrc_flip":
        shorter = ResizeShorter(math.floor(image_size / (eval_crop or 0.875)), interpolation)
        scale = crop_scale or RRC_AUGMENTATIONS[augmentation]
        return Transform(shorter, ResizedCropFlip(image_size, scale, interpolation))
    raise ValueError(f"unknown augmentation {augmentation!r}; valid: {', '.join(AUGMENTATIONS)}")
