"""The config header of an OpenMixup training log: the cell it trained and the hyper-parameters it states.

OpenMixup (mmcv) writes the run's resolved config as Python source: at the top of a text `.log`
(after "Config:") and as the `config` string of a `.log.json`'s first line. `evaluate` reads that
source without executing it (assignments of literals, `dict(...)`, lists, tuples, `range(...)`);
`cell` and `hyperparameters` turn it into the suite's vocabulary, so a log can be compared with the
suite cell it claims to reproduce. Only what the header states is returned: a key the config does
not set stays absent, never filled with a default that might not be the code's.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from bench.errors import BenchError

# model.type -> our method; MixUpClassification names it in mix_mode
LEARNED_CLASSES = {"AutoMixup": "automix", "AdAutoMix": "adautomix", "Adaptivemix": "adautomix"}
MIX_MODES = {
    "vanilla": "vanilla",
    "mixup": "mixup",
    "cutmix": "cutmix",
    "manifoldmix": "manifoldmix",
    "saliencymix": "saliencymix",
    "fmix": "fmix",
    "puzzlemix": "puzzlemix",
    "resizemix": "resizemix",
    "gridmix": "gridmix",
    "smoothmix": "smoothmix",
    "snapmix": "snapmix",
    "attentivemix": "attentivemix",
}
# data roots and image lists -> our dataset (first match wins)
DATASET_PATTERNS = (
    (r"cifar-?100|CIFAR100", "cifar100"),
    (r"cifar-?10\b|CIFAR10'", "cifar10"),
    (r"tiny[-_]?imagenet", "tiny_imagenet"),
    (r"CUB", "cub200"),
    (r"aircraft", "fgvc_aircraft"),
    (r"\bcars\b|/cars/|stanford[-_]?cars", "stanford_cars"),
    (r"imagenet", "imagenet"),
)


def evaluate(source: str, where: str = "config") -> dict[str, Any]:
    """The assignments of an mmcv config's Python source, evaluated without running it."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise BenchError(f"{where}: the config header is not Python ({exc.msg}, line {exc.lineno})") from None
    names: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            names[node.targets[0].id] = _literal(node.value, names, where)
    return names


def _literal(node: ast.AST, names: dict[str, Any], where: str) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(e, names, where) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict):
        return {_literal(k, names, where): _literal(v, names, where) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_literal(node.operand, names, where)
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("dict", "range"):
        args = [_literal(a, names, where) for a in node.args]
        kwargs = {k.arg: _literal(k.value, names, where) for k in node.keywords if k.arg}
        if node.func.id == "range":
            return list(range(*args))
        return {**(args[0] if args else {}), **kwargs}
    raise BenchError(f"{where}: cannot read {ast.dump(node)[:60]} in the config header (only literals)")


def _backbone(model: dict[str, Any]) -> str:
    backbone = model.get("backbone") or {}
    kind, depth, arch = str(backbone.get("type", "")), backbone.get("depth"), backbone.get("arch")
    if kind.startswith("ResNeXt") and depth == 50:
        return "resnext50_32x4d"
    if kind.startswith("ResNet") and depth in (18, 34, 50, 101):
        return f"resnet{depth}"
    if kind.startswith("SwinTransformer") and arch == "tiny":
        return "swin_tiny"
    if kind.startswith("ConvNeXt") and arch == "tiny":
        return "convnext_tiny"
    return re.sub(r"[^a-z0-9]+", "_", f"{kind}{depth or arch or ''}".lower()).strip("_")


def _dataset(config: dict[str, Any]) -> str:
    text = repr(config.get("data", {}).get("train", config.get("data_source_cfg", {})))
    for pattern, name in DATASET_PATTERNS:
        if re.search(pattern, text, re.IGNORECASE):
            return name
    return "unknown"


def _method(model: dict[str, Any]) -> str:
    kind = str(model.get("type", ""))
    if kind in LEARNED_CLASSES:
        return LEARNED_CLASSES[kind]
    mode = str(model.get("mix_mode", "vanilla"))
    return MIX_MODES.get(mode, mode.lower())


def cell(config: dict[str, Any]) -> tuple[str, str, str, int]:
    """(dataset, backbone, method, epochs) of the run, in registry names where they exist."""
    model = config.get("model", {})
    epochs = int((config.get("runner") or {}).get("max_epochs") or config.get("total_epochs") or 0)
    return (_dataset(config), _backbone(model), _method(model), epochs)


def _set(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        out[key] = value


def _recipe(config: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    data, model = config.get("data", {}), config.get("model", {})
    opt, lr_config = config.get("optimizer", {}), config.get("lr_config", {})
    opt_cfg = config.get("optimizer_config") or {}
    gpus = len(config.get("gpu_ids") or [0])
    per_gpu, accumulate = data.get("imgs_per_gpu"), int(opt_cfg.get("update_interval") or 1)
    _set(out, "epochs", cell(config)[3] or None)
    _set(out, "gpus", gpus)
    _set(out, "batch_size", per_gpu * gpus * accumulate if per_gpu else None)
    _set(out, "optimizer", str(opt.get("type", "")).lower() or None)
    for key in ("lr", "weight_decay", "momentum"):
        _set(out, key, opt.get(key))
    _set(out, "min_lr", lr_config.get("min_lr"))
    if lr_config.get("warmup") and lr_config.get("warmup_by_epoch"):
        _set(out, "warmup_epochs", lr_config.get("warmup_iters"))
    _set(out, "grad_clip", (opt_cfg.get("grad_clip") or {}).get("max_norm"))
    _set(out, "drop_path", (model.get("backbone") or {}).get("drop_path_rate"))
    head = model.get("head") or model.get("head_one") or {}
    _set(out, "label_smoothing", (head.get("loss") or {}).get("label_smooth_val"))
    _set(out, "pretrained", bool(model["pretrained"]) if "pretrained" in model else None)
    return out


def _mix_args(model: dict[str, Any], method: str) -> dict[str, Any]:
    args = (model.get("mix_args") or {}).get(method) or {}
    out: dict[str, Any] = {}
    if method == "puzzlemix" and "block_num" in args:
        out["block_nums"] = [2**i for i in range(1, int(args["block_num"]))]
        _set(out, "t_size", args.get("t_size"))
    if method == "resizemix":
        _set(out, "scope", list(args["scope"]) if "scope" in args else None)
    return out


def _learned(config: dict[str, Any], method: str) -> dict[str, Any]:
    model, out = config.get("model", {}), {}
    block = model.get("mix_block") or {}
    _set(out, "lam_margin", model.get("lam_margin"))
    _set(out, "ema_start", model.get("momentum"))
    _set(out, "lam_concat", block.get("lam_concat"))
    mode = block.get("unsampling_mode", model.get("mask_up_override"))
    mode = mode[0] if isinstance(mode, list) and len(mode) == 1 else mode
    _set(out, "upsample", "random" if mode == "None" else mode)
    hooks = {h.get("type"): h for h in config.get("custom_hooks") or [] if isinstance(h, dict)}
    ema = hooks.get("CosineScheduleHook") or {}
    _set(out, "ema_end", ema.get("end_momentum"))
    _set(out, "ema_hold", (ema.get("adjust_scope") or [None])[0])
    mix_opt = ((config.get("optimizer") or {}).get("paramwise_options") or {}).get("mix_block") or {}
    _set(out, "mix_block_lr", mix_opt.get("lr"))
    extra = config.get("addtional_scheduler") or {}  # sic: OpenMixup's key
    _set(
        out,
        "mix_block_min_lr",
        extra.get("min_lr") if "mix_block" in (extra.get("paramwise_options") or []) else None,
    )
    if method == "automix":
        _set(out, "mask_loss", model.get("mask_loss"))
        return out
    if model.get("type") == "AdAutoMix":  # the released class: co_mix and mixed_radio are ignored kwargs
        _set(out, "mix_samples", model.get("mix_samples", 3))
        _set(out, "mixup_ratio", model.get("mixup_radio"))
    else:  # the authors' older, unreleased class `Adaptivemix`: N is co_mix, fixed
        _set(out, "mix_samples", model.get("co_mix"))
        _set(out, "is_random", False if "co_mix" in model else None)
        _set(out, "mixup_ratio", model.get("mixup_radio"))  # its `mixed_radio` is not read: meaning unknown
    _set(out, "is_random", model.get("is_random"))
    _set(out, "beta", model.get("beta_radio"))
    _set(out, "switch_off", model.get("switch_off"))
    if model.get("mask_loss"):
        out["mask_loss"] = model["mask_loss"]  # the old class's mask loss; the released one has none
    return out


def hyperparameters(config: dict[str, Any]) -> dict[str, Any]:
    """What the header states, in the suite's names: recipe keys flat, method params by their names."""
    model = config.get("model", {})
    method = cell(config)[2]
    out = {"class": str(model.get("type", "")), **_recipe(config)}
    _set(out, "alpha", model.get("alpha") if method != "vanilla" else None)
    if method in ("automix", "adautomix"):
        out.update(_learned(config, method))
    else:
        out.update(_mix_args(model, method))
    return out
