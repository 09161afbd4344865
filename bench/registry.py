"""What exists, by name: methods, backbones and datasets.

Each table maps a registry name to a `"module:attr"` target, imported only when used, so that
`grep` finds where any name lives and `bench ls` or `bench plan` import nothing they do not need.
`published` lists the spellings the published tables use for the same thing, so leaderboards can
put our numbers beside theirs.

A name is given here and nowhere else. What the rest of the code asks about a method (paper, kind,
whether it reads the classifier, cost target, unavoidable passes) is an attribute of its class
(bench/methods/base.py); what it asks about a backbone (its family, and so its stage-3 feature map;
where the ImageNet weights the papers fine-tuned come from) is a field of its entry here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from bench.errors import BenchError, unknown_name


@dataclass(frozen=True)
class Entry:
    name: str
    target: str  # "module:attr", imported lazily
    summary: str = ""  # one line for `bench ls`; a method's comes from its class (kind and paper)
    published: tuple[str, ...] = ()  # names used for this entry in published tables

    def load(self) -> Any:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def describe(self) -> str:
        """The line `bench ls` shows."""
        if self.summary:
            return self.summary
        cls = self.load()  # a method: its kind and paper live with its code
        return f"{cls.kind.value}: {cls.paper}"


@dataclass(frozen=True)
class Family:
    """What the backbones of one architecture share, for the methods that read their insides.

    `stage3` is the module whose output is the stage-3 feature map (AutoMix's and AdAutoMix's
    Mix Block read it; bench/models/features.py), `stride` the input pixels per map pixel with the
    ImageNet stem and `cifar_stride` with the CIFAR stem (None: no CIFAR stem), `channels_last`
    whether that module emits (B, H, W, C), `image_size` the one input size the family takes (None:
    any multiple of the stride). `residual_stages`: the stages are modules `layer1`..`layer4`, whose
    outputs ManifoldMix mixes. `class_activation_maps`: the classifier is one linear layer on the
    global average of the (B, C, h, w) map `forward_features` returns, so that layer applied at
    every position gives exact class activation maps (SnapMix)."""

    name: str
    stage3: str
    stride: int
    cifar_stride: int | None = None
    channels_last: bool = False
    image_size: int | None = None
    residual_stages: bool = False
    class_activation_maps: bool = False


FAMILIES = {
    f.name: f
    for f in (
        Family(
            "resnet",
            stage3="layer3",
            stride=16,
            cifar_stride=4,
            residual_stages=True,
            class_activation_maps=True,
        ),
        # OpenMixup's Swin ends stage 2 with the patch merging that timm puts at the start of stage 3.
        Family("swin", stage3="layers.3.downsample", stride=32, channels_last=True, image_size=224),
        Family("convnext", stage3="stages.2", stride=16, cifar_stride=4),
    )
}


@dataclass(frozen=True)
class BackboneEntry(Entry):
    family: str = ""  # a key of FAMILIES ("": none known, so no stage-3 map)
    # The ImageNet weights the papers fine-tuned (recipe.pretrained), as a URL for the user to fetch
    # ("": none documented). torchvision's IMAGENET1K_V1 files: what OpenMixup's
    # `pretrained="torchvision://<name>"` and the AdAutoMix release load (bench/models/pretrained.py).
    weights: str = ""


def _torchvision_v1(file: str) -> str:
    return f"https://download.pytorch.org/models/{file}"


def _table(*entries: Entry) -> dict[str, Entry]:
    return {e.name: e for e in entries}


METHODS = _table(
    Entry("vanilla", "bench.methods.vanilla:Vanilla", published=("Vanilla",)),
    Entry("mixup", "bench.methods.mixup:MixUp", published=("MixUp", "Mixup")),
    Entry("cutmix", "bench.methods.cutmix:CutMix", published=("CutMix",)),
    Entry(
        "manifoldmix", "bench.methods.manifoldmix:ManifoldMix", published=("ManifoldMix", "Manifold Mixup")
    ),
    Entry("saliencymix", "bench.methods.saliencymix:SaliencyMix", published=("SaliencyMix",)),
    Entry("fmix", "bench.methods.fmix:FMix", published=("FMix",)),
    Entry("puzzlemix", "bench.methods.puzzlemix:PuzzleMix", published=("PuzzleMix", "Puzzle Mix")),
    Entry("resizemix", "bench.methods.resizemix:ResizeMix", published=("ResizeMix",)),
    Entry("gridmix", "bench.methods.gridmix:GridMix", published=("GridMix",)),
    Entry("smoothmix", "bench.methods.smoothmix:SmoothMix", published=("SmoothMix",)),
    Entry("automix", "bench.methods.automix:AutoMix", published=("AutoMix",)),
    Entry("adautomix", "bench.methods.adautomix:AdAutoMix", published=("AdAutoMix",)),
    Entry("aom", "bench.methods.aom:AOM", published=("AOM", "AOM (adversarially optimized mixup)")),
    Entry("snapmix", "bench.methods.snapmix:SnapMix", published=("SnapMix",)),
)

BACKBONES = _table(
    BackboneEntry(
        "tiny_resnet",
        "bench.models.backbones:tiny_resnet",
        "4-stage ResNet, widths 16-128, for smoke runs and tests",
        family="resnet",
    ),
    BackboneEntry(
        "resnet18",
        "bench.models.backbones:resnet18",
        "ResNet-18 (timm)",
        ("ResNet-18",),
        family="resnet",
        weights=_torchvision_v1("resnet18-f37072fd.pth"),
    ),
    BackboneEntry(
        "resnet34",
        "bench.models.backbones:resnet34",
        "ResNet-34 (timm)",
        ("ResNet-34",),
        family="resnet",
        weights=_torchvision_v1("resnet34-b627a593.pth"),
    ),
    BackboneEntry(
        "resnet50",
        "bench.models.backbones:resnet50",
        "ResNet-50 (timm)",
        ("ResNet-50",),
        family="resnet",
        weights=_torchvision_v1("resnet50-0676ba61.pth"),
    ),
    BackboneEntry(
        "resnet101",
        "bench.models.backbones:resnet101",
        "ResNet-101 (timm)",
        ("ResNet-101",),
        family="resnet",
        weights=_torchvision_v1("resnet101-63fe2227.pth"),
    ),
    BackboneEntry(
        "resnext50_32x4d",
        "bench.models.backbones:resnext50_32x4d",
        "ResNeXt-50 32x4d (timm)",
        ("ResNeXt-50(32x4d)", "ResNeXt-50", "ResNeXt-50 32x4d"),
        family="resnet",
        weights=_torchvision_v1("resnext50_32x4d-7cdf4587.pth"),
    ),
    BackboneEntry(
        "swin_tiny",
        "bench.models.backbones:swin_tiny",
        "Swin-T (timm swin_tiny_patch4_window7_224), 224 px images",
        ("Swin-T", "Swin-Tiny"),
        family="swin",
    ),
    BackboneEntry(
        "convnext_tiny",
        "bench.models.backbones:convnext_tiny",
        "ConvNeXt-T (timm), 3x3 stride-1 stem for images of 64 px or less",
        ("ConvNeXt-T", "ConvNeXt-Tiny"),
        family="convnext",
    ),
)

DATASETS = _table(
    Entry("synthetic", "bench.data.synthetic:SYNTHETIC", "seeded synthetic 10-class images; no download"),
    Entry("cifar10", "bench.data.cifar:CIFAR10", "CIFAR-10, python pickle release", ("CIFAR-10",)),
    Entry("cifar100", "bench.data.cifar:CIFAR100", "CIFAR-100, python pickle release", ("CIFAR-100",)),
    Entry(
        "tiny_imagenet",
        "bench.data.tiny_imagenet:TINY_IMAGENET",
        "Tiny-ImageNet, tiny-imagenet-200 release (val is the test split)",
        ("Tiny-ImageNet",),
    ),
    Entry(
        "imagenet",
        "bench.data.imagenet:IMAGENET",
        "ImageNet-1K, train/ and val/ class folders",
        ("ImageNet-1K",),
    ),
    Entry("cub200", "bench.data.cub200:CUB200", "CUB-200-2011 release", ("CUB-200-2011", "CUB-200")),
    Entry(
        "fgvc_aircraft",
        "bench.data.fgvc_aircraft:FGVC_AIRCRAFT",
        "FGVC-Aircraft 2013b, variants, trainval/test",
        ("FGVC-Aircraft",),
    ),
    Entry(
        "stanford_cars",
        "bench.data.stanford_cars:STANFORD_CARS",
        "Stanford Cars, devkit .mat layout",
        ("Stanford-Cars",),
    ),
)

KINDS = {"methods": METHODS, "backbones": BACKBONES, "datasets": DATASETS}
_SINGULAR = {"methods": "method", "backbones": "backbone", "datasets": "dataset"}


def get(kind: str, name: str) -> Entry:
    """The entry for `name`, or a BenchError naming close matches and every valid name."""
    table = KINDS[kind]
    if name not in table:
        raise BenchError(unknown_name(_SINGULAR[kind], name, table))
    return table[name]


def family(backbone: str) -> Family | None:
    """The registered backbone's family, or None (unregistered, or no family known)."""
    entry = BACKBONES.get(backbone)
    return FAMILIES.get(getattr(entry, "family", ""))


def published_name(kind: str, name: str) -> str:
    """How published tables write this entry (its first alias), else the registry name."""
    entry = KINDS[kind].get(name)
    return entry.published[0] if entry and entry.published else name
