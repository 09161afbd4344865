"""SmoothMix details: a Gaussian blob of the partner, labels by pixel share (the paper's direction)."""

from __future__ import annotations

import math

import torch

from tests.fixtures.methods import BATCH, NUM_CLASSES, SIZE, batch, make


def test_blob_is_a_gaussian_on_a_pixel_with_sigma_in_range() -> None:
    method = make("smoothmix", seed=4)
    images, _ = batch()
    for _ in range(10):
        blob = 1 - method.sample(images).mask[0, 0]  # the partner's weight
        assert blob.max() == 1.0 and blob.min() > 0  # soft everywhere, peak exactly on a pixel
        cy, cx = divmod(int(blob.argmax()), SIZE)
        ny = cy + 1 if cy + 1 < SIZE else cy - 1  # a vertical neighbour inside the image
        sigma = math.sqrt(-1 / (2 * math.log(float(blob[ny, cx]))))
        assert 0.25 * SIZE - 1e-3 <= sigma <= 0.5 * SIZE + 1e-3


def test_labels_follow_pixel_shares_not_openmixups_inverted_weights() -> None:
    method = make("smoothmix", seed=5)
    images, labels = batch()
    _mixed, targets, sample = method.mix(images, method.targets(labels))
    blob_share = 1 - sample.mask.mean()  # the partner's share of the pixels
    assert blob_share < 0.5  # a blob of sigma <= H / 2 covers less than half the image
    own = torch.zeros(BATCH, NUM_CLASSES)
    own[torch.arange(BATCH), labels] = 1
    expected = (1 - blob_share) * own + blob_share * own[sample.perm]
    assert torch.allclose(targets, expected, atol=1e-6)
