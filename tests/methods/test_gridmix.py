"""GridMix details: a regular grid of holes inside a crop, capped on small images."""

from __future__ import annotations

import torch

from bench.methods.base import MethodContext
from bench.methods.gridmix import GridMix, GridMixParams, grid_holes
from tests.fixtures.methods import batch


def make(size: int, seed: int = 0, **params) -> GridMix:
    ctx = MethodContext(10, size, 0.0, torch.Generator().manual_seed(seed), torch.device("cpu"), 1, 1)
    return GridMix(GridMixParams(**params), ctx)


def test_holes_are_top_left_squares_of_each_patch() -> None:
    holes = grid_holes(12, 12, lam=0.75, n_holes=3, hole_aspect=1.0)  # patches of 4, holes of 2
    expected = torch.zeros(12, 12)
    for top in (0, 4, 8):
        for left in (0, 4, 8):
            expected[top : top + 2, left : left + 2] = 1
    assert torch.equal(holes, expected)


def test_partner_fills_a_periodic_grid_inside_the_crop() -> None:
    method = make(64, seed=3, n_holes=(4, 4), cut_area_ratio=(0.5, 0.5), cut_aspect_ratio=(1.0, 1.0))
    images = torch.randn(2, 3, 64, 64)
    sample = method.sample(images)
    partner = sample.mask[0, 0] == 0
    rows, cols = partner.any(1).nonzero().flatten(), partner.any(0).nonzero().flatten()
    assert rows.max() - rows.min() < 45 and cols.max() - cols.min() < 45  # inside a 45 px crop
    for profile in (partner.any(0), partner.any(1)):  # 4 columns and 4 rows of holes, 12 px apart
        starts = (
            (torch.diff(profile.int(), prepend=torch.zeros(1, dtype=torch.int32)) == 1).nonzero().flatten()
        )
        assert len(starts) == 4 and torch.all(torch.diff(starts) == 12)


def test_crop_is_clipped_to_the_image_and_columns_are_capped() -> None:
    # A crop of full area with aspect 2 would be 1.4x taller than the image; 6 columns do not fit
    # in a 16 px image whose crop can be 11 px wide.
    method = make(16, seed=0, cut_area_ratio=(1.0, 1.0), cut_aspect_ratio=(2.0, 2.0), n_holes=(6, 6))
    images, _ = batch()
    for _ in range(10):
        sample = method.sample(images)
        assert sample.mask.shape == (1, 1, 16, 16)
        assert (sample.mask == 0).any() and torch.allclose(sample.lam, sample.mask.mean().expand(8))
