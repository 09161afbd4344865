"""The stage-3 feature tap: the map sizes and upsampling factors of the AdAutoMix spec (section 2.2)."""

from __future__ import annotations

import pytest
import torch
from timm.models.convnext import ConvNeXt
from timm.models.swin_transformer import SwinTransformer

from bench import registry
from bench.models import features
from bench.models.backbones import build_backbone

# (backbone, image size, channels, map size, upsampling factor): the spec's table
CASES = [
    ("tiny_resnet", 16, 64, 4, 4),
    ("resnet18", 32, 256, 8, 4),
    ("resnet18", 224, 256, 14, 16),
    ("resnext50_32x4d", 32, 1024, 8, 4),
    ("resnet50", 224, 1024, 14, 16),
    ("swin_tiny", 224, 768, 7, 32),
    ("convnext_tiny", 32, 384, 8, 4),
]


@pytest.mark.parametrize(("name", "size", "channels", "side", "factor"), CASES)
def test_stage3_map_has_the_published_size(
    name: str, size: int, channels: int, side: int, factor: int
) -> None:
    with torch.device("meta"):  # shapes only: the real backbones, without their weights or compute
        model = build_backbone(name, num_classes=10, image_size=size).eval()
        tap = features.Stage3.of(model, registry.family(name))
        with tap.capture() as maps:
            model(torch.empty(1, 3, size, size))
    assert tap.channels == channels
    assert maps[0].shape == (1, channels, side, side)
    assert size // side == factor == features.stage3_stride(registry.family(name), size <= 64)
    features.check(name, size)  # the static check agrees


def small_models() -> dict[str, torch.nn.Module]:
    """One small real model per family, to check values rather than shapes."""
    torch.manual_seed(0)
    return {
        "resnet": build_backbone("tiny_resnet", num_classes=10, image_size=32),
        "swin": SwinTransformer(
            img_size=32,
            patch_size=2,
            window_size=2,
            embed_dim=8,
            depths=(1, 1, 1, 1),
            num_heads=(1, 1, 1, 1),
            num_classes=10,
        ),
        "convnext": ConvNeXt(depths=(1, 1, 1, 1), dims=(8, 16, 32, 64), num_classes=10),
    }


@pytest.mark.parametrize("family", ["resnet", "swin", "convnext"])
def test_pooled_features_feed_the_models_own_classifier(family: str) -> None:
    model = small_models()[family].eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        logits = features.classifier(model)(features.pooled(model, images))
        assert torch.allclose(logits, model(images), atol=1e-6)


def test_swin_map_is_the_layer_normed_patch_merging_output() -> None:
    model = small_models()["swin"].eval()
    tap = features.Stage3.of(model, registry.FAMILIES["swin"])
    raw = []
    hook = model.layers[3].downsample.register_forward_hook(lambda _m, _i, out: raw.append(out))
    with torch.no_grad(), tap.capture() as maps:
        model(torch.randn(2, 3, 32, 32))
    hook.remove()
    assert raw[0].shape == (2, 2, 2, 64)  # timm's Swin is channels-last
    expected = torch.nn.functional.layer_norm(raw[0], (64,)).permute(0, 3, 1, 2)
    assert torch.equal(maps[0], expected)
    assert torch.allclose(maps[0].mean(1), torch.zeros(2, 2, 2), atol=1e-5)


def test_convnext_cifar_stem_is_a_3x3_stride_1_conv() -> None:
    with torch.device("meta"):
        cifar = build_backbone("convnext_tiny", num_classes=10, image_size=32).stem[0]
        imagenet = build_backbone("convnext_tiny", num_classes=10, image_size=224).stem[0]
    assert (cifar.kernel_size, cifar.stride, cifar.padding) == ((3, 3), (1, 1), (1, 1))
    assert (imagenet.kernel_size, imagenet.stride) == ((4, 4), (4, 4))


@pytest.mark.parametrize(
    ("name", "size", "reason"),
    [
        ("vit_small", 224, "no known stage-3 feature map"),
        ("swin_tiny", 32, "at 224 px only"),
        ("resnet18", 100, "multiple of 16"),
        ("resnet18", 4, "multiple of 4"),
    ],
)
def test_unusable_stage3_maps_are_rejected_with_the_reason(name: str, size: int, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        features.check(name, size)


def test_a_model_without_its_familys_stage3_module_is_rejected() -> None:
    with pytest.raises(
        ValueError, match="Linear has no module 'layer3', the stage-3 map of the resnet family"
    ):
        features.Stage3.of(torch.nn.Linear(3, 3), registry.FAMILIES["resnet"])


@pytest.mark.parametrize("family", ["resnet", "swin", "convnext"])
def test_every_family_taps_a_module_its_small_model_has(family: str) -> None:
    model = small_models()[family].eval()
    tap = features.Stage3.of(model, registry.FAMILIES[family])
    with torch.no_grad(), tap.capture() as maps:
        model(torch.randn(1, 3, 32, 32))
    assert maps[0].ndim == 4 and maps[0].shape[1] == tap.channels
