"""MixUp and CutMix details that the generic invariants do not pin."""

from __future__ import annotations

import torch

from bench.methods import sampling
from tests.methods.test_invariants import batch, make


def test_mixup_blends_whole_images_with_one_lambda_per_batch() -> None:
    method = make("mixup")
    images, labels = batch()
    mixed, _targets, sample = method.mix(images, method.targets(labels))
    assert sample.mask.shape == (1, 1, 1, 1) and torch.all(sample.lam == sample.lam[0])
    lam = float(sample.lam[0])
    torch.testing.assert_close(mixed, lam * images + (1 - lam) * images[sample.perm])


def test_cutmix_pastes_one_box_and_weights_labels_by_its_clipped_area() -> None:
    method = make("cutmix", seed=11)
    images, labels = batch()
    mixed, _targets, sample = method.mix(images, method.targets(labels))
    mask = sample.mask[0, 0]
    inside = mask == 0
    rows, cols = inside.any(1).nonzero(), inside.any(0).nonzero()
    if inside.any():  # the pasted region is one axis-aligned rectangle
        assert inside[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()
    assert torch.equal(mixed[:, :, inside], images[sample.perm][:, :, inside])
    assert torch.allclose(sample.lam, 1 - inside.float().mean().expand_as(sample.lam))


def test_beta_sampler_matches_the_beta_distribution() -> None:
    g = torch.Generator().manual_seed(0)
    draws = sampling.beta(0.5, g, 20000)
    # Beta(0.5, 0.5): mean 0.5, variance 1/8
    assert abs(draws.mean().item() - 0.5) < 0.01
    assert abs(draws.var().item() - 0.125) < 0.005
    assert ((draws >= 0) & (draws <= 1)).all()


def test_box_stays_inside_the_image() -> None:
    g = torch.Generator().manual_seed(1)
    for lam in (0.0, 0.01, 0.5, 0.99, 1.0):
        top, bottom, left, right = sampling.box(16, 12, lam, g)
        assert 0 <= top <= bottom <= 16 and 0 <= left <= right <= 12
