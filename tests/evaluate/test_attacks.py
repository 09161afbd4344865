"""FGSM and PGD: equal to torchattacks (outputs frozen in tests/fixtures), L∞ = ε exactly, inside [0, 1], and effective on trained models."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bench.evaluate import attacks

EPS = 8 / 255
REFERENCE = Path(__file__).parents[1] / "fixtures" / "torchattacks_reference.npz"


def tiny_cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(128, 10)
    )


@functools.cache
def trained_cnn() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A tiny CNN fitted to 10 colour classes in [0, 1] pixel space (clean accuracy ~100%)."""
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(128) % 10
    colours = torch.rand(10, 3, 1, 1, generator=g)
    images = (colours[labels] + 0.08 * torch.randn(128, 3, 16, 16, generator=g)).clamp(0, 1)
    model = attacks.PixelSpace(tiny_cnn(), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(100):
        optimizer.zero_grad()
        F.cross_entropy(model(images), labels).backward()
        optimizer.step()
    return model.eval(), images, labels


def test_pixel_space_normalises_inside_the_model() -> None:
    net = tiny_cnn()
    x = torch.rand(4, 3, 8, 8)
    mean, std = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
    expected = net((x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1))
    assert torch.allclose(attacks.PixelSpace(net, mean, std)(x), expected, atol=1e-6)


@functools.cache
def torchattacks_reference() -> dict[str, np.ndarray]:
    """torchattacks 3.5.1's FGSM and PGD on fixed inputs (tests/fixtures/make_attack_reference.py)."""
    with np.load(REFERENCE) as data:
        return {key: data[key] for key in data.files}


def reference_model(ref: dict[str, np.ndarray]) -> nn.Module:
    net = tiny_cnn()
    net.load_state_dict(
        {k[len("weight.") :]: torch.from_numpy(v) for k, v in ref.items() if k.startswith("weight.")}
    )
    return attacks.PixelSpace(net, tuple(ref["mean"].tolist()), tuple(ref["std"].tolist())).eval()


def test_fgsm_equals_torchattacks_fgsm() -> None:
    ref = torchattacks_reference()
    x, y = torch.from_numpy(ref["x_fgsm"]), torch.from_numpy(ref["y_fgsm"])
    ours = attacks.fgsm(reference_model(ref), x, y, float(ref["settings"][0]))
    assert not torch.equal(ours, x)
    assert torch.equal(ours, torch.from_numpy(ref["fgsm"]))


def test_pgd_without_random_start_equals_torchattacks_pgd() -> None:
    ref = torchattacks_reference()
    eps, step, steps = ref["settings"].tolist()
    x, y = torch.from_numpy(ref["x_pgd"]), torch.from_numpy(ref["y_pgd"])
    ours = attacks.pgd(
        reference_model(ref), x, y, eps=eps, step_size=step, steps=int(steps), random_start=False
    )
    assert not torch.equal(ours, x)
    assert torch.equal(ours, torch.from_numpy(ref["pgd"]))


def test_fgsm_moves_every_unclamped_pixel_by_exactly_eps_and_stays_in_range() -> None:
    model = attacks.PixelSpace(tiny_cnn(), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)).eval()
    x = torch.rand(8, 3, 12, 12, generator=torch.Generator().manual_seed(3))
    x[0, 0, 0, :4] = torch.tensor([0.0, 1.0, 0.01, 0.995])  # pixels where clamping binds
    adv = attacks.fgsm(model, x, torch.arange(8), EPS)
    delta = (adv - x).abs()
    assert adv.min() >= 0 and adv.max() <= 1
    assert torch.isclose(delta.max(), torch.tensor(EPS), atol=1e-6)
    assert (delta <= EPS + 1e-6).all()
    free = (x + EPS <= 1) & (x - EPS >= 0)
    moved = delta[free]
    assert torch.allclose(moved[moved > 0], torch.full_like(moved[moved > 0], EPS), atol=1e-6)


def test_fgsm_flips_exactly_the_points_a_linear_model_puts_within_eps_l1_w_of_the_boundary() -> None:
    """For logits (w·x, 0), FGSM lowers the true class's margin by exactly ε‖w‖₁ (no clamping in [0.1, 0.9])."""
    g = torch.Generator().manual_seed(4)
    w = torch.randn(3 * 4 * 4, generator=g)
    linear = nn.Linear(48, 2, bias=False)
    with torch.no_grad():
        linear.weight.copy_(torch.stack([w, torch.zeros_like(w)]))
    model = nn.Sequential(nn.Flatten(), linear).eval()
    x = 0.1 + 0.8 * torch.rand(400, 3, 4, 4, generator=g)
    margin = x.flatten(1) @ w  # class 0 wins when > 0
    y = (margin <= 0).long()  # every point starts correctly classified
    adv = attacks.fgsm(model, x, y, EPS)
    flipped = model(adv).argmax(1) != y
    budget = EPS * w.abs().sum()
    expected = margin.abs() < budget
    assert expected.any() and (~expected).any()
    assert torch.equal(flipped, expected)


def test_fgsm_and_pgd_change_a_trained_models_predictions() -> None:
    model, x, y = trained_cnn()
    clean = (model(x).argmax(1) == y).float().mean().item()
    fgsm_acc = (model(attacks.fgsm(model, x, y, 16 / 255)).argmax(1) == y).float().mean().item()
    adv = attacks.pgd(
        model,
        x,
        y,
        eps=16 / 255,
        step_size=4 / 255,
        steps=10,
        random_start=True,
        generator=torch.Generator().manual_seed(0),
    )
    pgd_acc = (model(adv).argmax(1) == y).float().mean().item()
    assert clean > 0.95
    assert fgsm_acc < clean - 0.2
    assert pgd_acc <= fgsm_acc
    assert (adv - x).abs().max() <= 16 / 255 + 1e-6 and adv.min() >= 0 and adv.max() <= 1


def test_pgd_random_start_is_seeded() -> None:
    model = attacks.PixelSpace(tiny_cnn(), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)).eval()
    x, y = torch.rand(4, 3, 8, 8), torch.arange(4)

    def run(seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return attacks.pgd(model, x, y, eps=EPS, step_size=1 / 255, steps=2, random_start=True, generator=g)

    assert torch.equal(run(0), run(0))
    assert not torch.equal(run(0), run(1))


def test_autoattack_reference_runs_and_respects_eps() -> None:
    pytest.importorskip("pyautoattack", reason="the robustness extra (pip install -e .[dev] installs it)")
    torch.manual_seed(0)
    model = attacks.PixelSpace(
        nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 10)), (0.5,) * 3, (0.25,) * 3
    ).eval()
    x = torch.rand(16, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    y = model(x).argmax(1)  # clean accuracy 100%; a linear model is not robust at 8/255, so APGD-CE ends it
    adv = attacks.autoattack(model, x, y, eps=EPS, version="standard", seed=0, batch_size=16)
    assert (adv - x).abs().max() <= EPS + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    fgsm_acc = (model(attacks.fgsm(model, x, y, EPS)).argmax(1) == y).float().mean()
    assert (model(adv).argmax(1) == y).float().mean() <= fgsm_acc
