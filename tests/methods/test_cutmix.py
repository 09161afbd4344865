"""CutMix details that the generic invariants do not pin."""

from __future__ import annotations

import torch

from tests.fixtures.methods import batch, make


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
