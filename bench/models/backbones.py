"""Backbones by timm name, with the CIFAR stem the mixup papers use for small images.

For 32 px (CIFAR) and 64 px (Tiny-ImageNet) data, OpenMixup's ResNet_CIFAR replaces the 7x7
stride-2 stem and max-pool with a 3x3 stride-1 convolution and no pool, so a 32 px input gives
stage outputs of 32/16/8/4 px. timm has no such option, so the stem is swapped after creation;
the state-dict keys stay timm's (= torchvision's), which keeps checkpoint import simple.
"""

from __future__ import annotations

from pathlib import Path

import timm
from timm.models.resnet import BasicBlock, ResNet
from torch import nn

from bench import registry
from bench.errors import BenchError


def cifar_stem(model: ResNet) -> ResNet:
    """Replace a ResNet's stem with a 3x3 stride-1 convolution and drop the max-pool."""
    width = model.conv1.out_channels
    model.conv1 = nn.Conv2d(3, width, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


def _timm_resnet(name: str):
    def build(num_classes: int, cifar: bool, drop_path: float = 0.0) -> nn.Module:
        model = timm.create_model(name, pretrained=False, num_classes=num_classes, drop_path_rate=drop_path)
        return cifar_stem(model) if cifar else model

    build.__name__ = name
    build.__doc__ = f"timm {name}; CIFAR stem when `cifar`."
    return build


resnet18 = _timm_resnet("resnet18")
resnet34 = _timm_resnet("resnet34")
resnet50 = _timm_resnet("resnet50")
resnet101 = _timm_resnet("resnet101")
resnext50_32x4d = _timm_resnet("resnext50_32x4d")


def tiny_resnet(num_classes: int, cifar: bool, drop_path: float = 0.0) -> nn.Module:
    """A four-stage ResNet: timm's 64-channel stem, then one basic block per stage with widths
    16-128 (0.32 M parameters).

    It has the same modules as a timm ResNet-18 (conv1, layer1..layer4, fc), so every hook that
    works on it works on the real backbones; it just trains ~35x faster on a CPU.
    """
    model = ResNet(
        block=BasicBlock,
        layers=(1, 1, 1, 1),
        channels=(16, 32, 64, 128),
        stem_width=16,
        num_classes=num_classes,
        drop_path_rate=drop_path,
    )
    return cifar_stem(model) if cifar else model


def swin_tiny(num_classes: int, cifar: bool, drop_path: float = 0.0) -> nn.Module:
    """timm swin_tiny_patch4_window7_224 (Swin-T); the mixup papers run it on images resized to 224 px."""
    if cifar:
        raise BenchError("swin_tiny runs at 224 px (resize the images: recipe.image_size: 224, stem: auto)")
    return timm.create_model(
        "swin_tiny_patch4_window7_224", pretrained=False, num_classes=num_classes, drop_path_rate=drop_path
    )


def convnext_tiny(num_classes: int, cifar: bool, drop_path: float = 0.0) -> nn.Module:
    """timm convnext_tiny (ConvNeXt-T).

    With `cifar`, OpenMixup's ConvNeXt_CIFAR: a 3x3 stride-1 convolution replaces the 4x4 stride-4
    patchify stem (its LayerNorm stays), so a 32 px image gives stage maps of 32/16/8/4 px.
    """
    model = timm.create_model(
        "convnext_tiny", pretrained=False, num_classes=num_classes, drop_path_rate=drop_path
    )
    if cifar:
        stem = nn.Conv2d(3, model.stem[0].out_channels, kernel_size=3, stride=1, padding=1)
        nn.init.trunc_normal_(stem.weight, std=0.02)  # timm's ConvNeXt initialisation of convolutions
        nn.init.zeros_(stem.bias)
        model.stem[0] = stem
    return model


def uses_cifar_stem(stem: str, image_size: int) -> bool:
    """`auto` follows the papers: CIFAR stem up to 64 px (CIFAR, Tiny-ImageNet), ImageNet stem above."""
    return stem == "cifar" or (stem == "auto" and image_size <= 64)


def build_backbone(
    name: str,
    *,
    num_classes: int,
    image_size: int,
    stem: str = "auto",
    pretrained: Path | None = None,
    drop_path: float = 0.0,
) -> nn.Module:
    """The classifier network for a job, randomly initialised from the current torch seed; with
    `pretrained` (a weights file, see bench/models/pretrained.py) all but its classifier loaded from it."""
    factory = registry.get("backbones", name).load()
    model = factory(num_classes, uses_cifar_stem(stem, image_size), drop_path)
    if pretrained is not None:
        from bench.models import pretrained as weights

        weights.load(model, pretrained, name)
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
