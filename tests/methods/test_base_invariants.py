"""Every registered method passes the invariants of its kind (driven by the registry and by each
method's own facts, so a new method is tested the moment it is registered)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from bench import registry
from bench.methods.base import GuidedMix, Kind
from bench.methods.targets import mix_targets
from tests.fixtures.methods import BATCH, NUM_CLASSES, batch, make, model

METHODS = sorted(registry.METHODS)


@pytest.mark.parametrize("name", METHODS)
def test_one_training_step_runs_on_cpu(name: str) -> None:
    net, method = model(), make(name)
    method.setup(net)
    params = [p for p in net.parameters()] + [p for g in method.param_groups() for p in g["params"]]
    optimizer = torch.optim.SGD(params, lr=0.1)
    images, labels = batch()
    before = [p.detach().clone() for p in net.parameters()]
    loss, _logs = method.loss(net, images, labels)
    assert loss.ndim == 0 and torch.isfinite(loss)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    method.after_step(net)
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))
    assert set(method.eval_models(net)) == set(method.networks)
    assert method.primary_network.split("|")[0] in method.networks


@pytest.mark.parametrize("name", METHODS)
def test_same_generator_gives_the_same_loss(name: str) -> None:
    losses = []
    for _ in range(2):
        net, method = model(), make(name, seed=3)
        method.setup(net)
        losses.append(method.loss(net, *batch())[0].item())
    assert losses[0] == losses[1]


@pytest.mark.parametrize("name", METHODS)
def test_no_global_rng_is_touched(name: str) -> None:
    net, method = model(), make(name)
    method.setup(net)
    net.eval()  # no dropout-style layers draw from the global RNG in eval mode
    torch_state, np_state, py_state = (
        torch.get_rng_state(),
        np.random.get_state()[1].copy(),
        random.getstate(),
    )
    method.loss(net, *batch())
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state)
    assert random.getstate() == py_state


def facts(name: str):
    return registry.get("methods", name).load()


# Methods that mix input images, blindly (input mix) or guided by the model (guided).
MIXERS = [n for n in METHODS if facts(n).kind in (Kind.INPUT, Kind.GUIDED)]


def mix(method, images: torch.Tensor, labels: torch.Tensor):
    """(mixed, soft targets, sample) from either kind of input mixer."""
    if isinstance(method, GuidedMix):
        return method.mix(model(), images, labels)
    return method.mix(images, method.targets(labels))


@pytest.mark.parametrize("name", MIXERS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_input_mixers_keep_shapes_and_give_valid_soft_targets(name: str, smoothing: float) -> None:
    method = make(name, smoothing=smoothing)
    images, labels = batch()
    for _ in range(5):  # several draws: boxes near the border, extreme lambdas
        mixed, targets, sample = mix(method, images, labels)
        assert mixed.shape == images.shape and mixed.dtype == images.dtype and mixed.device == images.device
        assert targets.shape == (BATCH, NUM_CLASSES) and (targets >= 0).all()
        assert ((sample.lam >= 0) & (sample.lam <= 1)).all()
        # lam is exactly the original image's share of the pixels
        share = sample.mask.float().mean(dim=(1, 2, 3)).expand(BATCH)
        assert torch.allclose(sample.lam, share, atol=1e-6)
        if method.share_labels:  # and so are the label weights, which sum to 1
            assert torch.allclose(targets.sum(1), torch.ones(BATCH))
            expected = mix_targets(method.targets(labels), sample.perm, sample.lam)
        else:  # label weights of their own (non-negative), one pair per sample
            weights = sample.weights()
            assert weights.shape == (BATCH, 2) and (weights >= 0).all()
            expected = (
                weights[:, :1] * method.targets(labels) + weights[:, 1:] * method.targets(labels)[sample.perm]
            )
        assert torch.allclose(targets, expected, atol=1e-6)
        source = images if sample.source is None else sample.source
        partner = images[sample.perm] if sample.partner is None else sample.partner
        assert torch.allclose(mixed, sample.mask * source + (1 - sample.mask) * partner)


@pytest.mark.parametrize("name", MIXERS)
def test_same_generator_same_mix(name: str) -> None:
    images, labels = batch()
    a = mix(make(name, seed=5), images, labels)
    b = mix(make(name, seed=5), images, labels)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    c = mix(make(name, seed=6), images, labels)
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize("name", METHODS)
def test_preview_describes_its_mix(name: str) -> None:
    net, method = model(), make(name)
    method.setup(net)
    images, labels = batch()
    preview = method.preview(net, images, labels)
    assert preview.images.shape == images.shape
    assert preview.sources.shape == preview.weights.shape and preview.sources.shape[0] == BATCH
    assert ((preview.sources >= 0) & (preview.sources < BATCH)).all()
    assert (preview.weights >= 0).all()
    if method.share_labels:
        assert torch.allclose(preview.weights.sum(1), torch.ones(BATCH))


@pytest.mark.parametrize("name", METHODS)
def test_fixed_partners_are_the_ones_mixed(name: str) -> None:
    net, method = model(), make(name)
    method.setup(net)
    perm = torch.tensor([7, 6, 5, 4, 3, 2, 1, 0])
    with method.fixed_partners(perm):
        preview = method.preview(net, *batch())
    if preview.sources.shape[1] > 1:  # methods that mix show the partner they used
        assert torch.equal(preview.sources[:, 1], perm)
    assert method.permutation(batch()[0]).shape == (BATCH,)  # drawn again outside the block
