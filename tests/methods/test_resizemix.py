"""ResizeMix details: the whole partner, shrunk, fills one box; labels by its area."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bench.methods.base import MethodContext
from bench.methods.resizemix import ResizeMix, ResizeMixParams


def make(seed: int = 0, **params) -> ResizeMix:
    ctx = MethodContext(10, 32, 0.0, torch.Generator().manual_seed(seed), torch.device("cpu"), 1, 1)
    return ResizeMix(ResizeMixParams(**params), ctx)


def test_box_holds_the_resized_partner_and_lam_is_its_area() -> None:
    images = torch.randn(4, 3, 32, 32)
    for seed in range(10):
        method = make(seed)
        mixed, _targets, sample = method.mix(images, torch.eye(10)[:4])
        box = sample.mask[0, 0] == 0
        rows, cols = box.any(1).nonzero().flatten(), box.any(0).nonzero().flatten()
        top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        assert box[top:bottom, left:right].all()
        small = F.interpolate(images[sample.perm], size=(int(bottom - top), int(right - left)))
        assert torch.equal(mixed[:, :, top:bottom, left:right], small)
        assert torch.allclose(sample.lam, 1 - box.float().mean().expand(4))
        assert bottom - top <= 0.8 * 32 and right - left <= 0.8 * 32  # tau <= 0.8


def test_a_box_too_small_to_paste_leaves_the_image_alone() -> None:
    method = make(scope=(0.02, 0.02))  # int(32 * 0.02) = 0 pixels
    images = torch.randn(4, 3, 32, 32)
    mixed, _targets, sample = method.mix(images, torch.eye(10)[:4])
    assert torch.equal(mixed, images) and torch.all(sample.lam == 1)
