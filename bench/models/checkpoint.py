"""Import checkpoints saved by OpenMixup or the AdAutoMix release into our timm backbones.

An mmcv checkpoint is a dict with `state_dict`, `meta` and `optimizer`; keys may start with
`module.` (saved from a DistributedDataParallel wrapper). In the state dict:

- a single-network classifier (MixUpClassification: Vanilla, MixUp, CutMix, ...) stores the
  backbone under `backbone.` with torchvision's key names (= timm's) and the linear classifier
  under `head.fc.`;
- AutoMix and AdAutoMix store the online network q (`backbone_q.`, `head_one_q.`, `head_mix_q.`),
  the EMA teacher k (`backbone_k.`, `head_one_k.`, `head_mix_k.`), the Mix Block (`mix_block.`),
  and, because the model aliases `backbone = backbone_k` and `head = head_one_k`, the teacher a
  second time under `backbone.` and `head.`.

So a network is a (backbone prefix, head prefix) pair. Prefixes are matched exactly, up to the dot:
`backbone_k.` is not `backbone.` (OpenMixup's own extractor strips anything that starts with
"backbone" and turns `backbone_k.x` into `k.x`). The published AdAutoMix numbers are the EMA
teacher's (adautomix.md §8), so when a file holds both networks the teacher is the default.

Files are read with `torch.load(weights_only=True)`. mmcv's `meta` may hold numpy scalars (a best
score, say); only numpy's scalar, array and dtype reconstructors are allowed for that, under the
module names numpy 1.x (`numpy.core`) and 2.x (`numpy._core`) write. Nothing else is unpickled.
Backbones other than ResNet/ResNeXt (Swin, ConvNeXt, DeiT) use mmcls key names that need a mapping
table per architecture; they are refused with that explanation.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from timm.models.resnet import ResNet
from torch import nn

from bench.errors import BenchError, unknown_name

# network -> (backbone prefix, head prefix); the head's linear layer is `<head prefix>fc.`
NETWORKS = {
    "online": ("backbone_q.", "head_one_q."),
    "online_mix": ("backbone_q.", "head_mix_q."),
    "ema": ("backbone_k.", "head_one_k."),
    "ema_mix": ("backbone_k.", "head_mix_k."),
}
SINGLE = ("backbone.", "head.")  # a single-network classifier's layout: its one network is `online`
SHOWN = 5  # key names quoted in an error message, per list


class CheckpointError(BenchError):
    """A checkpoint that cannot be read or does not fit the backbone."""


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    state: dict[str, torch.Tensor]  # `module.` stripped
    meta: dict[str, Any]
    two_networks: bool  # holds an online network and an EMA teacher (AutoMix, AdAutoMix)

    def networks(self) -> list[str]:
        """The networks this file can give, in NETWORKS order."""
        if not self.two_networks:
            return ["online"] if _has(self.state, SINGLE[0]) else []
        return [n for n, (b, h) in NETWORKS.items() if _has(self.state, b) and _has(self.state, h + "fc.")]

    def default_network(self) -> str:
        """What `--network auto` evaluates: the teacher's heads (the larger), else the one network."""
        if self.two_networks:
            teacher = [n for n in self.networks() if n.startswith("ema")]
            if teacher:
                return "|".join(teacher)
        return "online"


def _has(state: Mapping[str, Any], prefix: str) -> bool:
    return any(k.startswith(prefix) for k in state)


def _numpy_globals() -> list[Any]:
    """numpy's reconstructors for scalars and arrays, under numpy 1.x and 2.x module names."""
    import numpy as np

    core = getattr(np, "_core", None) or np.core
    allowed: list[Any] = [np.ndarray, np.dtype]
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed += [(core.multiarray.scalar, f"{module}.scalar")]
        allowed += [(core.multiarray._reconstruct, f"{module}._reconstruct")]
    codes = ("b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8")
    allowed += [type(np.dtype(code)) for code in codes]  # numpy.dtypes.Float64DType, ...
    return allowed


def read(path: str | Path) -> Checkpoint:
    """Load an OpenMixup/mmcv checkpoint (or a bare state dict) safely, with `module.` stripped."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    with path.open("rb") as f:
        is_pickle = f.read(1) == b"\x80"  # torch.save's legacy format starts with a pickle
    if not (zipfile.is_zipfile(path) or is_pickle):
        raise CheckpointError(f"{path}: not a readable torch checkpoint (neither a zip archive nor a pickle)")
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\s+Please|\n\n|$)", str(exc), re.S)
        raise CheckpointError(
            f"{path}: refused to unpickle it with weights_only=True (only tensors, plain containers and "
            "numpy scalars/arrays are allowed): "
            + (reason.group(1).strip() if reason else str(exc).splitlines()[0])
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{path}: not a readable torch checkpoint ({type(exc).__name__}: {exc})"
        ) from None
    if isinstance(obj, Mapping) and "job_id" in obj and "model" in obj:
        raise CheckpointError(
            f"{path}: this is a bench run checkpoint (last.pt); its accuracy per epoch is already in "
            "metrics.jsonl beside it. `bench evaluate` reads OpenMixup/mmcv checkpoints."
        )
    state = obj.get("state_dict", obj) if isinstance(obj, Mapping) else None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(
            f"{path}: expected an mmcv checkpoint (a dict with 'state_dict') or a state dict of tensors"
        )
    state = {k.removeprefix("module."): v for k, v in state.items()}
    meta = obj.get("meta") or {}
    two = _has(state, "backbone_k.") or _has(state, "backbone_q.")
    return Checkpoint(path, state, dict(meta) if isinstance(meta, Mapping) else {}, two)


def extract(ckpt: Checkpoint, network: str) -> tuple[dict[str, torch.Tensor], list[str]]:
    """(the state dict for `model` in timm names, the key prefixes left out) for one network."""
    if ckpt.two_networks:
        if network not in NETWORKS:
            raise CheckpointError(unknown_name("network", network, NETWORKS))
        backbone, head = NETWORKS[network]
    elif network == "online":
        backbone, head = SINGLE
    else:
        raise CheckpointError(
            f"{ckpt.path}: network {network!r} asked for, but the file holds a single network "
            f"({SINGLE[0]}* and {SINGLE[1]}*): use --network online"
        )
    available = ckpt.networks()
    if network not in available:
        prefixes = sorted({k.split(".")[0] for k in ckpt.state})
        raise CheckpointError(
            f"{ckpt.path}: no {network} network in it: it needs {backbone}* and {head}fc.* keys; "
            f"networks found: {', '.join(available) or 'none'}; key prefixes: {', '.join(prefixes)}"
        )
    weights, skipped = {}, set()
    for key, value in ckpt.state.items():
        if key.startswith(backbone):
            weights[key[len(backbone) :]] = value
        elif key.startswith(head + "fc."):
            weights["fc." + key[len(head) + 3 :]] = value  # timm's (and torchvision's) classifier
        elif key.startswith(head):
            weights[key] = value  # a head layer we have no place for: reported as extra
        else:
            skipped.add(key.split(".")[0] + ".*")
    return weights, sorted(skipped)


def _names(keys: list[str]) -> str:
    shown = ", ".join(keys[:SHOWN])
    return shown + (f", … and {len(keys) - SHOWN} more" if len(keys) > SHOWN else "")


def load_into(model: nn.Module, weights: Mapping[str, torch.Tensor], where: str) -> None:
    """Strict load; a mismatch names the missing, extra and mis-shaped keys (first few, counts)."""
    if not isinstance(model, ResNet):
        raise CheckpointError(
            f"{where}: checkpoint import maps ResNet/ResNeXt key names only (torchvision = timm = "
            f"OpenMixup); {type(model).__name__} uses mmcls names that need a mapping table, not written yet"
        )
    expected = model.state_dict()
    lines = mismatch(expected, weights)
    if lines:
        reshaped = {k for k, v in weights.items() if k in expected and v.shape != expected[k].shape}
        if "conv1.weight" in reshaped:
            lines.append(
                "hint: conv1 differs: the checkpoint has the other stem (try --stem cifar or --stem imagenet)"
            )
        if "fc.weight" in reshaped:
            lines.append("hint: the classifier has another number of classes: is it the right --dataset?")
        raise CheckpointError(
            "\n  ".join([f"{where}: the checkpoint's keys do not match the model's", *lines])
        )
    missing_counters = {k: expected[k] for k in expected if k not in weights}
    model.load_state_dict({**weights, **missing_counters}, strict=True)


def mismatch(
    expected: Mapping[str, torch.Tensor], weights: Mapping[str, torch.Tensor], what: str = "checkpoint"
) -> list[str]:
    """The missing, extra and mis-shaped keys of `weights` (from a `what`) against a model's state
    dict, one line per kind (first few names and the count); [] when they fit."""
    # BatchNorm's step counter does not change what the network computes; old files may lack it.
    missing = [k for k in expected if k not in weights and not k.endswith("num_batches_tracked")]
    extra = [k for k in weights if k not in expected]
    shapes = [
        f"{k} (file {tuple(v.shape)}, model {tuple(expected[k].shape)})"
        for k, v in weights.items()
        if k in expected and v.shape != expected[k].shape
    ]
    lines = []
    if missing:
        lines.append(f"missing from the {what} ({len(missing)}): {_names(missing)}")
    if extra:
        lines.append(f"extra in the {what} ({len(extra)}): {_names(extra)}")
    if shapes:
        lines.append(f"different shapes ({len(shapes)}): {_names(shapes)}")
    return lines
