"""What exists, by name: methods, backbones and datasets.

Each table maps a registry name to a `"module:attr"` target, imported only when used, so that
`grep` finds where any name lives and `bench ls` or `bench plan` import nothing they do not need.
`published` lists the spellings the published tables use for the same thing, so leaderboards can
put our numbers beside theirs.
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
    summary: str
    published: tuple[str, ...] = ()  # names used for this entry in published tables

    def load(self) -> Any:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


def _table(*entries: Entry) -> dict[str, Entry]:
    return {e.name: e for e in entries}


METHODS = _table(
    Entry(
        "vanilla",
        "bench.methods.vanilla:Vanilla",
        "no mixing: cross-entropy on clean images (ERM)",
        ("Vanilla",),
    ),
    Entry(
        "mixup", "bench.methods.mixup:MixUp", "MixUp, Zhang et al. 2018, arXiv 1710.09412", ("MixUp", "Mixup")
    ),
    Entry("cutmix", "bench.methods.cutmix:CutMix", "CutMix, Yun et al. 2019, arXiv 1905.04899", ("CutMix",)),
    Entry(
        "manifoldmix",
        "bench.methods.manifoldmix:ManifoldMix",
        "ManifoldMix, Verma et al. 2019, arXiv 1806.05236 (ResNet-style backbones)",
        ("ManifoldMix", "Manifold Mixup"),
    ),
    Entry(
        "saliencymix",
        "bench.methods.saliencymix:SaliencyMix",
        "SaliencyMix, Uddin et al. 2021, arXiv 2006.01791",
        ("SaliencyMix",),
    ),
    Entry("fmix", "bench.methods.fmix:FMix", "FMix, Harris et al. 2020, arXiv 2002.12047", ("FMix",)),
    Entry(
        "puzzlemix",
        "bench.methods.puzzlemix:PuzzleMix",
        "PuzzleMix, Kim et al. 2020, arXiv 2009.06962 (needs the puzzlemix extra: gco-wrapper)",
        ("PuzzleMix", "Puzzle Mix"),
    ),
    Entry(
        "resizemix",
        "bench.methods.resizemix:ResizeMix",
        "ResizeMix, Qin et al. 2020, arXiv 2012.11101",
        ("ResizeMix",),
    ),
    Entry(
        "gridmix",
        "bench.methods.gridmix:GridMix",
        "GridMix, Baek et al. 2021, Pattern Recognition (OpenMixup's variant)",
        ("GridMix",),
    ),
    Entry(
        "smoothmix",
        "bench.methods.smoothmix:SmoothMix",
        "SmoothMix, Lee et al. 2020, CVPR Workshops",
        ("SmoothMix",),
    ),
    Entry(
        "automix",
        "bench.methods.automix:AutoMix",
        "AutoMix, Liu et al. ECCV 2022, arXiv 2103.13027 (learned Mix Block, EMA teacher)",
        ("AutoMix",),
    ),
    Entry(
        "adautomix",
        "bench.methods.adautomix:AdAutoMix",
        "AdAutoMix, Qin et al. ICLR 2024, arXiv 2312.11954 (adversarial Mix Block, EMA teacher)",
        ("AdAutoMix",),
    ),
    Entry(
        "aom",
        "bench.methods.aom:AOM",
        "Adversarially Optimized Mixup, Bunk et al. 2021, arXiv 2103.11589 (reconstructed from the abstract)",
        ("AOM", "AOM (adversarially optimized mixup)"),
    ),
)

BACKBONES = _table(
    Entry(
        "tiny_resnet",
        "bench.models.backbones:tiny_resnet",
        "4-stage ResNet, widths 16-128, for smoke runs and tests",
    ),
    Entry("resnet18", "bench.models.backbones:resnet18", "ResNet-18 (timm)", ("ResNet-18",)),
    Entry("resnet34", "bench.models.backbones:resnet34", "ResNet-34 (timm)", ("ResNet-34",)),
    Entry("resnet50", "bench.models.backbones:resnet50", "ResNet-50 (timm)", ("ResNet-50",)),
    Entry("resnet101", "bench.models.backbones:resnet101", "ResNet-101 (timm)", ("ResNet-101",)),
    Entry(
        "resnext50_32x4d",
        "bench.models.backbones:resnext50_32x4d",
        "ResNeXt-50 32x4d (timm)",
        ("ResNeXt-50(32x4d)", "ResNeXt-50", "ResNeXt-50 32x4d"),
    ),
    Entry(
        "swin_tiny",
        "bench.models.backbones:swin_tiny",
        "Swin-T (timm swin_tiny_patch4_window7_224), 224 px images",
        ("Swin-T", "Swin-Tiny"),
    ),
    Entry(
        "convnext_tiny",
        "bench.models.backbones:convnext_tiny",
        "ConvNeXt-T (timm), 3x3 stride-1 stem for images of 64 px or less",
        ("ConvNeXt-T", "ConvNeXt-Tiny"),
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


def published_name(kind: str, name: str) -> str:
    """How published tables write this entry (its first alias), else the registry name."""
    entry = KINDS[kind].get(name)
    return entry.published[0] if entry and entry.published else name
