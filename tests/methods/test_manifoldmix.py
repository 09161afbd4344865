"""ManifoldMix details: hidden features are mixed after the drawn stage, through a temporary hook."""

from __future__ import annotations

import pytest
import torch

from bench.methods.base import MethodContext
from bench.methods.manifoldmix import ManifoldMix, ManifoldMixParams
from bench.models.backbones import build_backbone
from tests.fixtures.methods import batch, model


def make(seed: int = 0, **params) -> ManifoldMix:
    ctx = MethodContext(10, 16, 0.0, torch.Generator().manual_seed(seed), torch.device("cpu"), 1, 1)
    return ManifoldMix(ManifoldMixParams(**params), ctx)


def staged_forward(net, images: torch.Tensor, layer: int, perm: torch.Tensor, lam: float) -> torch.Tensor:
    """A timm ResNet's forward written out stage by stage, mixing after `layer` (0: the input)."""
    mix = lambda h: lam * h + (1 - lam) * h[perm]  # noqa: E731
    x = mix(images) if layer == 0 else images
    x = net.maxpool(net.act1(net.bn1(net.conv1(x))))
    for k in range(1, 5):
        x = getattr(net, f"layer{k}")(x)
        if k == layer:
            x = mix(x)
    return net.forward_head(x)


@pytest.mark.parametrize("layer", [0, 1, 2, 3])
def test_features_are_mixed_after_the_chosen_stage(layer: int) -> None:
    net, method = model().eval(), make()
    images, _ = batch()
    perm = torch.tensor([3, 0, 1, 2, 7, 4, 5, 6])
    ours = method.forward_mixed(net, images, layer, perm, 0.3)
    torch.testing.assert_close(ours, staged_forward(net, images, layer, perm, 0.3))
    assert all(not getattr(net, f"layer{k}")._forward_hooks for k in range(1, 5))  # hook removed


def test_loss_uses_the_drawn_layer_and_lam_on_the_labels() -> None:
    net, method = model().eval(), make(seed=3)
    images, labels = batch()
    loss, logs = method.loss(net, images, labels)
    replay = make(seed=3)
    layer, perm, lam = replay.draw(images)
    logits = staged_forward(net, images, layer, perm, lam)
    targets = lam * torch.eye(10)[labels] + (1 - lam) * torch.eye(10)[labels[perm]]
    expected = -(targets * logits.log_softmax(1)).sum(1).mean()
    torch.testing.assert_close(loss, expected)
    assert logs["lam"] == pytest.approx(lam)


def test_layers_are_drawn_uniformly_from_the_list() -> None:
    method = make(layers=(0, 2))
    images, _ = batch()
    drawn = [method.draw(images)[0] for _ in range(400)]
    assert set(drawn) == {0, 2} and 150 < drawn.count(2) < 250


def test_hook_is_removed_when_the_forward_fails() -> None:
    net, method = model(), make()
    with pytest.raises(RuntimeError):
        method.forward_mixed(net, torch.randn(8, 5, 16, 16), 2, torch.arange(8), 0.5)  # wrong channels
    assert not net.layer2._forward_hooks


def test_works_with_a_timm_resnet() -> None:
    net = build_backbone("resnet18", num_classes=10, image_size=16)
    method = make(seed=1, layers=(3,))
    images, labels = batch()
    loss, _ = method.loss(net, images, labels)
    loss.backward()
    assert torch.isfinite(loss) and net.conv1.weight.grad is not None


def test_preview_is_honest_about_feature_space_mixing() -> None:
    images, labels = batch()
    deep = make(layers=(2,)).preview(model(), images, labels)
    assert torch.equal(deep.images, images) and "layer2" in deep.note
    shallow = make(layers=(0,)).preview(model(), images, labels)
    lam = float(shallow.weights[0, 0])
    perm = shallow.sources[:, 1]
    torch.testing.assert_close(shallow.images, lam * images + (1 - lam) * images[perm])
