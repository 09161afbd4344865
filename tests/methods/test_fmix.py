"""FMix details: the low-frequency image and the exact-share threshold."""

from __future__ import annotations

import torch

from bench.methods.fmix import low_frequency_image, top_share_mask
from tests.fixtures.methods import batch, make


def test_released_spectrum_has_at_most_one_horizontal_period() -> None:
    # The released code's indexing keeps horizontal frequencies 0 and 1 only (see the docstring).
    image = low_frequency_image(32, 32, 3.0, torch.Generator().manual_seed(0), "released")
    spectrum = torch.fft.rfft2(image).abs()
    assert spectrum[:, 2:].max() < 1e-9 * spectrum.max()
    assert spectrum[:, 1].max() > 1e-3 * spectrum.max()


def test_paper_spectrum_is_isotropic_and_decays() -> None:
    g = torch.Generator().manual_seed(0)
    power = sum(torch.fft.rfft2(low_frequency_image(32, 32, 3.0, g, "paper")).abs() ** 2 for _ in range(50))
    assert power[:, 2:].max() > 1e-6 * power.max()  # horizontal detail exists
    low, high = power[1:3, 1:3].mean(), power[8:16, 8:16].mean()
    assert low > 1e4 * high  # 1/f^3 amplitude: power falls by ~(f ratio)^6


def test_mask_keeps_exactly_the_top_pixels() -> None:
    g = torch.Generator().manual_seed(1)
    image = torch.randn(16, 16, generator=g)
    counts = set()
    for _ in range(20):
        mask = top_share_mask(image, 0.3, g)
        kept = int(mask.sum())
        counts.add(kept)
        assert kept in (76, 77)  # 0.3 x 256 = 76.8, rounded down or up
        assert image[mask == 1].min() > image[mask == 0].max()
    assert counts == {76, 77}


def test_one_binary_mask_per_batch() -> None:
    method = make("fmix", seed=2)
    images, _ = batch()
    sample = method.sample(images)
    assert sample.mask.shape == (1, 1, 16, 16)
    assert set(sample.mask.unique().tolist()) == {0.0, 1.0}
