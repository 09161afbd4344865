"""Transforms: the batched implementation equals PIL image by image, and PIL's pipeline equals
torchvision's (up to Pillow's own choice of resize pass order)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from PIL import Image

from bench.data import transforms as T
from bench.data.base import to_pil


def smooth_image(h: int, w: int, seed: int = 0) -> torch.Tensor:
    """uint8 (3, H, W): waves plus noise, like a photograph's mix of edges and texture."""
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    planes = [
        128 + 100 * np.sin(xx / 7 + seed) * np.cos(yy / 9),
        128 + 80 * np.sin((xx + yy) / 5),
        xx * 255 / w,
    ]
    pixels = np.stack(planes) + rng.normal(0, 10, (3, h, w))
    return torch.from_numpy(pixels.clip(0, 255).astype(np.uint8))


CASES = [  # (augmentation, image size, eval crop, source height, width)
    ("rrc_flip", 64, None, 64, 64),  # Tiny-ImageNet: upsampling crops
    ("rrc_flip", 24, 0.875, 75, 100),  # ImageNet-style, downsampling crops
    ("resize_rrc_flip", 24, 0.875, 60, 45),  # fine-grained: two resamplings
    ("none", 24, 0.875, 75, 100),  # resize 27 + centre crop 24
    ("none", 40, None, 32, 32),  # a fixed-size set at another resolution
    ("flip", 32, None, 32, 32),
    ("crop_flip", 32, None, 32, 32),
]


@pytest.mark.parametrize("interpolation", ["bicubic", "bilinear"])
@pytest.mark.parametrize(("augmentation", "size", "eval_crop", "h", "w"), CASES)
def test_a_batch_is_bit_identical_to_pil_image_by_image(augmentation, size, eval_crop, h, w, interpolation):
    transform = T.build(augmentation, size, interpolation=interpolation, eval_crop=eval_crop)
    images = torch.stack([smooth_image(h, w, seed) for seed in range(3)]).repeat(4, 1, 1, 1)  # 12
    params = transform.sample(len(images), torch.Generator().manual_seed(1))
    batch = transform.augment(transform.prepared(images), params)
    one_by_one = torch.stack(
        [
            transform.one(to_pil(img), None if params is None else params[i].tolist())
            for i, img in enumerate(images)
        ]
    )
    assert batch.dtype == torch.uint8 and batch.shape == (12, 3, size, size)
    assert torch.equal(batch, one_by_one)


def test_resampling_is_exact_for_random_noise_and_every_crop_shape() -> None:
    """Noise makes every overshoot and clipping visible; boxes mix up- and downsampling per axis."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (16, 3, 40, 50), generator=g, dtype=torch.uint8)
    transform = T.Transform(None, T.ResizedCropFlip(32, (0.05, 1.0), "bicubic"))
    params = transform.sample(16, g)
    batch = transform.augment(images, params)
    for i in range(16):
        assert torch.equal(batch[i], transform.one(to_pil(images[i]), params[i].tolist()))


def test_pil_pipeline_matches_torchvision_within_pass_order() -> None:
    """Our PIL calls are torchvision's Resize(256)+CenterCrop(224) and resized_crop; they differ only
    where Pillow picks its 2-D pass order, by at most 2 levels in a few pixels."""
    img = to_pil(smooth_image(150, 200))
    ours = T.build("none", 64, interpolation="bicubic", eval_crop=0.875).one(img, None)
    ref = TF.center_crop(TF.resize(img, 73, interpolation=TF.InterpolationMode.BICUBIC), 64)
    diff = (ours.int() - torch.from_numpy(np.array(ref)).permute(2, 0, 1).int()).abs()
    assert diff.max() <= 2 and (diff > 0).float().mean() < 0.05

    rrc = T.ResizedCropFlip(48, (0.08, 1.0), "bilinear")
    u = [0.3, 0.6] + [0.5] * 18 + [0.25, 0.75, 0.9]  # first attempt succeeds; no flip
    top, left, h, w = T.rrc_box(150, 200, u, (0.08, 1.0))
    ours = torch.from_numpy(np.array(rrc.one(img, u))).permute(2, 0, 1)
    ref = TF.resized_crop(img, top, left, h, w, [48, 48], interpolation=TF.InterpolationMode.BILINEAR)
    diff = (ours.int() - torch.from_numpy(np.array(ref)).permute(2, 0, 1).int()).abs()
    assert diff.max() <= 2 and (diff > 0).float().mean() < 0.05


def test_rrc_box_follows_torchvision_rules() -> None:
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        u = torch.rand(T.RRC_PARAMS, generator=g, dtype=torch.float64).tolist()
        top, left, h, w = T.rrc_box(60, 90, u, (0.08, 1.0))
        assert top >= 0 and top + h <= 60 and left >= 0 and left + w <= 90
    # the first attempt's area and aspect are used when they fit
    top, left, h, w = T.rrc_box(100, 100, [1.0, 0.5] + [0.0] * 21, (0.08, 1.0))
    assert (h, w) == (100, 100) and (top, left) == (0, 0)
    # no box of 90-100% of a 10 x 100 image has an aspect within 3/4..4/3: centre crop at ratio 4/3
    assert T.rrc_box(10, 100, [0.99] * T.RRC_PARAMS, (0.9, 1.0)) == (0, 43, 10, 13)


def test_flip_parameter_mirrors_the_output() -> None:
    img = smooth_image(30, 30)
    rrc = T.ResizedCropFlip(16, (0.5, 1.0), "bicubic")
    u = torch.rand(T.RRC_PARAMS, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    flipped, kept = u.clone(), u.clone()
    flipped[-1], kept[-1] = 0.1, 0.9
    a = rrc.batch(img[None], flipped[None])[0]
    b = rrc.batch(img[None], kept[None])[0]
    assert torch.equal(a, b.flip(2))


def test_pad_crop_flip_equals_the_reference_and_keeps_integers() -> None:
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.int64).reshape(2, 3, 6, 6).to(torch.uint8)
    crop = T.PadCropFlip(padding=2)
    params = crop.sample(2, torch.Generator().manual_seed(4))
    out = crop.batch(x, params)
    padded = torch.nn.functional.pad(x.float(), (2, 2, 2, 2), mode="reflect")
    for i in range(2):
        dy, dx, flip = (int(v) for v in params[i])
        ref = padded[i, :, dy : dy + 6, dx : dx + 6]
        assert torch.equal(out[i].float(), ref.flip(2) if flip else ref)


def test_unknown_augmentation_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="valid: crop_flip, rrc_flip"):
        T.build("randaug", 32, interpolation="bicubic", eval_crop=None)


def test_pil_filters_are_the_ones_named() -> None:
    assert T.PIL_FILTERS == {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}


@pytest.mark.cuda
def test_a_batch_on_the_gpu_is_bit_identical_to_pil() -> None:
    for augmentation, size, eval_crop, h, w in CASES:
        transform = T.build(augmentation, size, interpolation="bicubic", eval_crop=eval_crop)
        images = torch.stack([smooth_image(h, w, seed) for seed in range(8)])
        params = transform.sample(len(images), torch.Generator().manual_seed(1))
        batch = transform.augment(transform.prepared(images.cuda()), params).cpu()
        one_by_one = [
            transform.one(to_pil(img), None if params is None else params[i].tolist())
            for i, img in enumerate(images)
        ]
        assert torch.equal(batch, torch.stack(one_by_one)), augmentation


def test_crop_scale_sets_the_random_resized_crops_area_range_only() -> None:
    kw = dict(interpolation="bicubic", eval_crop=None)
    assert T.build("rrc_flip", 32, **kw).random.scale == (0.08, 1.0)
    swin = T.build("rrc_flip", 32, **kw, crop_scale=(0.8, 1.0))
    assert swin.random.scale == (0.8, 1.0)
    g = torch.Generator().manual_seed(0)
    for row in swin.sample(200, g).tolist():
        _, _, h, w = T.rrc_box(32, 32, row, (0.8, 1.0))
        assert h * w >= 0.8 * 32 * 32 * 0.85  # area fraction in [0.8, 1] up to rounding of the sides
    with pytest.raises(ValueError, match="crop_scale applies to a RandomResizedCrop"):
        T.build("crop_flip", 32, **kw, crop_scale=(0.8, 1.0))
