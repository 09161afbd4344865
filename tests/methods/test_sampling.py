"""The samplers every mixer draws from: lambda ~ Beta, CutMix boxes."""

from __future__ import annotations

import torch

from bench.methods import sampling


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
