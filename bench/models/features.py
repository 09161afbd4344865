"""Stage-3 feature maps and pooled features of a classifier, for the methods that read them.

AutoMix and AdAutoMix build their masks from the stage-3 feature map of the EMA teacher (OpenMixup
`out_indices=(2, 3)`: the first output). `Stage3` finds that map in a timm model, at the module its
backbone's family names (`registry.FAMILIES`; each backbone entry names its family):

| family | module tapped | map at the papers' sizes | upsampling factor |
|---|---|---|---|
| ResNet / ResNeXt (and `tiny_resnet`) | `layer3` | R-18 CIFAR 32 px: 256x8x8; R-18 224 px: 256x14x14 | 4 / 16 |
| Swin | `layers[3].downsample` (patch merging) | Swin-T 224 px: 768x7x7 | 32 |
| ConvNeXt | `stages[2]` | ConvNeXt-T CIFAR 32 px: 384x8x8 | 4 |

Swin: OpenMixup's Swin ends stage 2 with the patch merging that timm puts at the start of stage 3,
and lays an output LayerNorm (`norm2`) over that map. `norm2` feeds no loss of the online network,
so it keeps its initial weight 1 and bias 0 in both networks; it is applied here without affine
parameters, which is the same function.

`check(backbone, image_size)` is the static version used at suite validation (the real map is
checked again when the method first sees it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from bench import registry
from bench.models.backbones import uses_cifar_stem


def stage3_stride(family: registry.Family, cifar_stem: bool) -> int:
    """Input pixels per stage-3 pixel: the factor the masks are upsampled by."""
    return family.cifar_stride if cifar_stem and family.cifar_stride else family.stride


def family_of(backbone: str) -> registry.Family:
    """The backbone's family; ValueError if it has no known stage-3 map."""
    family = registry.family(backbone)
    if family is None:
        known = [name for name in registry.BACKBONES if registry.family(name)]
        raise ValueError(
            f"backbone {backbone!r} has no known stage-3 feature map for the Mix Block; "
            f"supported: {', '.join(known)}"
        )
    return family


def check(backbone: str, image_size: int) -> None:
    """Raise ValueError if `backbone` has no usable stage-3 map at `image_size` (auto stem)."""
    family = family_of(backbone)
    if family.image_size is not None and image_size != family.image_size:
        side = family.image_size // family.stride
        raise ValueError(
            f"{backbone} gives its {side}x{side} stage-3 map at {family.image_size} px only, "
            f"got image_size {image_size}"
        )
    stride = stage3_stride(family, uses_cifar_stem("auto", image_size))
    if image_size % stride or image_size // stride < 2:
        raise ValueError(
            f"the stage-3 map of {backbone} at {image_size} px is not a whole grid of at least 2x2 "
            f"cells of {stride} px (image_size must be a multiple of {stride}, at least {2 * stride})"
        )


@dataclass(frozen=True)
class Stage3:
    """Where a model's stage-3 map comes from, and its channel count."""

    module: nn.Module
    channels: int
    channels_last_output: bool  # Swin emits (B, H, W, C)

    @classmethod
    def of(cls, model: nn.Module, family: registry.Family) -> Stage3:
        """The tap of a model of `family` (its `stage3` module)."""
        try:
            module = model.get_submodule(family.stage3)
        except AttributeError:
            raise ValueError(
                f"{type(model).__name__} has no module {family.stage3!r}, the stage-3 map of the "
                f"{family.name} family"
            ) from None
        return cls(module, _channels(model, family.stage3), family.channels_last)

    def to_map(self, output: torch.Tensor) -> torch.Tensor:
        """The tapped module's output as a (B, C, h, w) map."""
        if self.channels_last_output:
            return F.layer_norm(output, output.shape[-1:]).permute(0, 3, 1, 2)
        return output

    @contextmanager
    def capture(self) -> Iterator[list[torch.Tensor]]:
        """Within the block, every forward of the model appends its stage-3 map to the list."""
        maps: list[torch.Tensor] = []
        handle = self.module.register_forward_hook(lambda _m, _i, out: maps.append(self.to_map(out)))
        try:
            yield maps
        finally:
            handle.remove()


def _channels(model: nn.Module, module_name: str) -> int:
    """The channels timm's `feature_info` gives for the tapped module or the stage that holds it."""
    return next(
        f["num_chs"]
        for f in model.feature_info
        if module_name == f["module"] or module_name.startswith(f["module"] + ".")
    )


def pooled(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The features a timm classifier's final linear layer sees (after pooling and any head norm)."""
    return model.forward_head(model.forward_features(images), pre_logits=True)


def classifier(model: nn.Module) -> nn.Module:
    """The final linear layer of a timm classifier: `model(x) == classifier(model)(pooled(model, x))`."""
    return model.get_classifier()
