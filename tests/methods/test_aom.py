"""Adversarially Optimized Mixup: the inner PGD loop, its bounds, labels and validation."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from bench import schema
from bench.errors import ConfigError
from bench.methods.aom import AOM, AOMParams, frozen_batchnorm_statistics
from bench.methods.base import MethodContext
from bench.methods.targets import mix_targets, soft_cross_entropy
from bench.models.backbones import build_backbone

MEAN, STD = (0.5, 0.4, 0.3), (0.25, 0.2, 0.3)


def make(seed: int = 0, **params) -> AOM:
    ctx = MethodContext(
        num_classes=10,
        image_size=16,
        label_smoothing=0.0,
        generator=torch.Generator().manual_seed(seed),
        device=torch.device("cpu"),
        steps_per_epoch=1,
        total_steps=1,
        mean=MEAN,
        std=STD,
    )
    return AOM(AOMParams(**params), ctx)


def batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    pixels = torch.rand(16, 3, 16, 16, generator=g)
    normalised = (pixels - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    return normalised, torch.randint(10, (16,), generator=g)


def net() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_backbone("tiny_resnet", num_classes=10, image_size=16).train()


def inner_loss(model, method, images, targets, mix, lam, delta) -> float:
    """The inner objective at (lam, delta) for the mix's pairs, as the method defines it."""
    first, second = images, images[mix.perm]
    x = lam.view(-1, 1, 1, 1) * first + (1 - lam.view(-1, 1, 1, 1)) * second + delta
    std = torch.tensor(STD).view(1, 3, 1, 1)
    weights = method.label_weights(x, first, second, lam, std)
    with frozen_batchnorm_statistics(model), torch.no_grad():
        return soft_cross_entropy(model(x), mix_targets(targets, mix.perm, weights)).item()


@pytest.mark.parametrize(
    "params", [{}, {"perturb_pixels": False}, {"optimize_lambda": False}, {"label": "geometric"}]
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_inner_loop_increases_the_loss_on_a_fixed_model(params: dict, seed: int) -> None:
    model, images_labels = net(), batch(seed)
    images, labels = images_labels
    method = make(seed, steps=5, random_start=False, **params)
    targets = method.targets(labels)
    mix = method.adversarial_mix(model, images, targets)
    before = inner_loss(model, method, images, targets, mix, mix.lam0, torch.zeros_like(images))
    after = inner_loss(model, method, images, targets, mix, mix.lam, mix.delta)
    assert after > before + 1e-3, (before, after)


def test_eps_lambda_and_pixel_bounds_hold() -> None:
    images, labels = batch()
    method = make(3, steps=4, eps=4 / 255, step_size=2 / 255, lambda_radius=0.05)
    mix = method.adversarial_mix(net(), images, method.targets(labels))
    std = torch.tensor(STD).view(1, 3, 1, 1)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    assert (mix.delta * std).abs().max() <= 4 / 255 + 1e-6
    assert ((mix.lam - mix.lam0).abs() <= 0.05 + 1e-6).all() and ((mix.lam >= 0) & (mix.lam <= 1)).all()
    pixels = mix.images * std + mean
    assert pixels.min() >= -1e-6 and pixels.max() <= 1 + 1e-6
    assert ((mix.weights >= 0) & (mix.weights <= 1)).all()
    assert not torch.equal(mix.lam, mix.lam0)  # lambda really moved


def test_geometric_labels_equal_lambda_on_the_segment() -> None:
    images, labels = batch()
    geometric = make(4, perturb_pixels=False, label="geometric").adversarial_mix(
        net(), images, make().targets(labels)
    )
    assert torch.allclose(geometric.weights, geometric.lam, atol=1e-5)
    off_segment = make(4, label="geometric").adversarial_mix(net(), images, make().targets(labels))
    assert not torch.allclose(off_segment.weights, off_segment.lam, atol=1e-3)


def test_attack_leaves_batchnorm_statistics_untouched() -> None:
    model, (images, labels) = net(), batch()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    method = make(steps=3)
    method.adversarial_mix(model, images, method.targets(labels))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_same_generator_same_adversarial_mix() -> None:
    images, labels = batch()
    a = make(7).adversarial_mix(net(), images, make().targets(labels))
    b = make(7).adversarial_mix(net(), images, make().targets(labels))
    assert torch.equal(a.images, b.images) and torch.equal(a.weights, b.weights)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"steps": 0}, "steps must be >= 1"),
        ({"eps": 0.0}, "eps must be > 0"),
        ({"eps": -0.1}, "eps must be > 0"),
        ({"step_size": 0.1}, "step_size must be in"),
        ({"optimize_lambda": False, "perturb_pixels": False}, "nothing to optimise"),
        ({"lambda_radius": 0.0}, "lambda_radius must be in"),
    ],
)
def test_bad_parameters_are_rejected(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        schema.build(AOMParams, {**dataclasses.asdict(AOMParams()), **change}, "params of aom")


def test_bad_parameters_are_rejected_at_suite_validation(project) -> None:
    from bench import suite as suite_mod
    from tests.conftest import write_suite

    path = write_suite(
        project,
        """
name: s
axes: {methods: [aom], backbones: [tiny_resnet], datasets: [synthetic], seeds: [0]}
method_params:
  aom: {eps: 0.01, step_size: 0.02}
""",
    )
    with pytest.raises(ConfigError, match=r"params of aom.*step_size must be in \(0, eps=0.01\]"):
        suite_mod.load(path)


def test_the_aom_suite_expands_to_its_variants_with_their_params() -> None:
    from pathlib import Path

    from bench import suite

    loaded = suite.load(Path(__file__).parents[2] / "suites" / "aom_cifar.yaml")
    jobs = suite.expand(loaded)
    assert len(jobs) == 7 * 2 * 3  # methods (4 AOM variants) x CIFAR-10/100 x seeds
    by_label = {job.method: job for job in jobs if job.dataset == "cifar100" and job.seed == 0}
    assert {label: job.method_name for label, job in by_label.items() if job.method_name == "aom"} == {
        "aom": "aom",
        "aom-geometric": "aom",
        "aom-lambda-only": "aom",
        "aom-pixels-only": "aom",
    }
    assert by_label["aom-geometric"].params["label"] == "geometric"
    assert by_label["aom-lambda-only"].params["perturb_pixels"] is False
    assert by_label["aom-pixels-only"].params["optimize_lambda"] is False
    assert by_label["aom"].params["eps"] == pytest.approx(8 / 255, abs=1e-6)
    assert (
        by_label["adautomix"].recipe.schedule.min_lr == 0.05 and by_label["aom"].recipe.schedule.min_lr == 0
    )
    robustness = loaded.data.robustness
    assert robustness is not None and robustness.evaluators == ["fgsm", "pgd", "autoattack"]
