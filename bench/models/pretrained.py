"""ImageNet-pretrained weights for `recipe.pretrained: true`, read from local files.

Nothing is downloaded. The fine-grained tables (AdAutoMix Table 2, OpenMixup's CUB-200 and
FGVC-Aircraft benchmarks) fine-tune torchvision's original ImageNet-1K weights (IMAGENET1K_V1):
OpenMixup's configs name `pretrained="torchvision://resnet18"`, which mmcv 1.x resolves to that
file, and the AdAutoMix release loads a local copy of it (`pretrained='tools/resnet18-pytorch.pth'`;
adautomix.md §6-7, openmixup.md §3). torchvision's key names are timm's, so the file loads into
our backbones unchanged.

The user saves one state dict per backbone in the weights folder (`[paths] weights` in bench.toml,
default `weights/`) as `<backbone>.pth`. It is read with `torch.load(weights_only=True)` (plain
state dicts and mmcv `{"state_dict": ...}` files, `module.` prefixes stripped); its classifier is
dropped, the model keeps its own classifier, freshly initialised for the dataset's classes, and
every other key must match the backbone by name and shape. Where each backbone's file comes from
is a field of its registry entry (`weights`). Missing files are reported when a suite
is run, before any job starts (`check_jobs`), with the file expected and where to get it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from torch import nn

from bench import registry
from bench.errors import BenchError


class PretrainedError(BenchError):
    """Pretrained weights that are missing or do not fit their backbone."""


def weights_file(backbone: str, weights_dir: Path) -> Path:
    return Path(weights_dir) / f"{backbone}.pth"


def how_to_get(backbone: str, path: Path) -> str:
    """Where the weights the papers used come from, as a command to run on a machine with internet."""
    url = getattr(registry.BACKBONES.get(backbone), "weights", "")
    if not url:
        return (
            f"no published ImageNet weights are documented for {backbone}; save a state dict with this "
            f"harness's (timm's) key names as {path}"
        )
    return (
        f"the papers fine-tuned torchvision's IMAGENET1K_V1 weights; on a machine with internet run "
        f"`curl -L -o {path} {url}` (or save torchvision.models.{backbone}(weights='IMAGENET1K_V1')"
        ".state_dict() there) and copy the file here"
    )


def check_jobs(jobs: Iterable, weights_dir: Path) -> None:
    """Raise one PretrainedError listing every pretrained job's missing weights file."""
    backbones = dict.fromkeys(job.backbone for job in jobs if job.recipe.pretrained)
    missing = [b for b in backbones if not weights_file(b, weights_dir).is_file()]
    if missing:
        lines = [
            f"- {weights_file(b, weights_dir)} (for {b}): {how_to_get(b, weights_file(b, weights_dir))}"
            for b in missing
        ]
        raise PretrainedError(
            "recipe.pretrained is set, but these ImageNet weights are not in the weights folder "
            f"({weights_dir}; `[paths] weights` in bench.toml):\n" + "\n".join(lines)
        )


def sha256(path: Path) -> str:
    """The file's SHA-256, recorded with every run that starts from it."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _classifier_name(model: nn.Module) -> str:
    head = model.get_classifier()
    return next(name for name, module in model.named_modules() if module is head)


def load(model: nn.Module, path: Path, backbone: str) -> None:
    """Load ImageNet weights from `path` into `model`, all but its classifier, which stays as it was
    initialised (the dataset has its own classes)."""
    from bench.models import checkpoint  # imports timm: only when a job trains

    if not Path(path).is_file():
        raise PretrainedError(f"{path}: no such weights file for {backbone}; {how_to_get(backbone, path)}")
    try:
        state = checkpoint.read(path).state
    except checkpoint.CheckpointError as exc:
        raise PretrainedError(f"pretrained weights for {backbone}: {exc}") from None
    head = _classifier_name(model) + "."
    weights = {k: v for k, v in state.items() if not k.startswith(head)}
    expected = {k: v for k, v in model.state_dict().items() if not k.startswith(head)}
    problems = checkpoint.mismatch(expected, weights, what="file")
    if problems:
        conv1 = [s.get("conv1.weight") for s in (weights, expected)]
        if None not in conv1 and conv1[0].shape != conv1[1].shape:
            problems.append(
                "hint: conv1 differs: ImageNet weights need the ImageNet stem (7x7 conv), which "
                "`stem: auto` picks only above 64 px; set recipe.stem: imagenet or image_size above 64"
            )
        raise PretrainedError(
            "\n  ".join([f"{path}: these weights do not fit {backbone} ({head}* ignored):", *problems])
        )
    model.load_state_dict(weights, strict=False)  # the classifier (and BN step counters) keep their values
