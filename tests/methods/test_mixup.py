"""MixUp details that the generic invariants do not pin."""

from __future__ import annotations

import torch

from tests.fixtures.methods import batch, make


def test_mixup_blends_whole_images_with_one_lambda_per_batch() -> None:
    method = make("mixup")
    images, labels = batch()
    mixed, _targets, sample = method.mix(images, method.targets(labels))
    assert sample.mask.shape == (1, 1, 1, 1) and torch.all(sample.lam == sample.lam[0])
    lam = float(sample.lam[0])
    torch.testing.assert_close(mixed, lam * images + (1 - lam) * images[sample.perm])
