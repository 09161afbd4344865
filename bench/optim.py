"""Optimizer and learning-rate schedule from a recipe.

The schedule follows mmcv, which produced the published numbers: cosine annealing from each
group's base lr to its min lr over the whole run (per epoch for the CNN recipes, per iteration for
the ViT recipes), with an optional linear warm-up that scales the cosine value during the first
iterations. A method's own modules (a mix block) can bring their own lr and min lr; the recipe's
weight-decay rule (none on norm weights and biases, for the ViT recipes) applies to them as well,
as OpenMixup's name-based paramwise options did.

OpenMixup's ViT recipes exempt parameters by name (`paramwise_options`: weight_decay 0 for 'norm',
'bias', 'gamma', 'relative_position_bias_table', ...), which `no_decay_names` repeats: a name
rule, not a shape rule. It differs from "every 1-d parameter" where a norm layer's name says
nothing of it: ConvNeXt's stem and downsampling LayerNorms (`stem.1`, `stages.N.downsample.0`
in timm, `downsample_layers.N.*` in OpenMixup) keep their weight decay there, their biases do
not. A method's own modules are matched by their names in the method (`block.key.bias`).
tests/test_optim.py checks the Table 1 recipes against OpenMixup's patterns and timm's
`no_weight_decay()`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from bench.errors import BenchError
from bench.recipe import Recipe

_NO_DECAY_NDIM = 1  # norm weights and biases are 1-d


def _decay_groups(group: dict[str, Any], recipe: Recipe, names: dict[int, str]) -> list[dict[str, Any]]:
    """`group` with the recipe's weight decay, split off the parameters the recipe exempts (norm
    weights and biases, named ones); a group that sets its own weight decay is kept as it is.
    `names`: parameter id -> name, for the name rule."""
    opt = recipe.optimizer
    if "weight_decay" in group:
        return [group]
    params = list(group["params"])

    def exempt(p: torch.Tensor) -> bool:
        if not opt.decay_norm_and_bias and p.ndim <= _NO_DECAY_NDIM:
            return True
        return any(key in names.get(id(p), "") for key in opt.no_decay_names)

    no_decay = [p for p in params if exempt(p)]
    if not no_decay:
        return [{**group, "weight_decay": opt.weight_decay}]
    split = [
        {**group, "params": [p for p in params if not exempt(p)], "weight_decay": opt.weight_decay},
        {**group, "params": no_decay, "weight_decay": 0.0},
    ]
    return [g for g in split if g["params"]]


def _parameter_names(model: nn.Module, extras: nn.Module | None, recipe: Recipe) -> dict[int, str]:
    """id -> name of the model's and `extras`' parameters; every `no_decay_names` entry must match
    one of them (a misspelt name would otherwise silently decay what the recipe meant to exempt)."""
    names = {} if extras is None else {id(p): n for n, p in extras.named_parameters()}
    names.update({id(p): n for n, p in model.named_parameters()})
    for key in recipe.optimizer.no_decay_names:
        if not any(key in n for n in names.values()):
            examples = ", ".join(list(names.values())[:3])
            raise BenchError(
                f"recipe.optimizer.no_decay_names: {key!r} is part of no parameter name of the "
                f"{type(model).__name__} (its names look like {examples})"
            )
    return names


def build_optimizer(
    model: nn.Module,
    recipe: Recipe,
    extra_groups: list[dict[str, Any]] = (),
    extras: nn.Module | None = None,
) -> torch.optim.Optimizer:
    """SGD or AdamW over the model and any extra groups (a method's modules; `extras`, the method,
    names their parameters for `no_decay_names`); every group remembers base_lr and min_lr."""
    opt = recipe.optimizer
    names = _parameter_names(model, extras, recipe)
    backbone = {"params": [p for p in model.parameters() if p.requires_grad]}
    groups = [g for group in (backbone, *extra_groups) for g in _decay_groups(group, recipe, names)]
    for group in groups:
        group.setdefault("lr", opt.lr)
        group.setdefault("min_lr", recipe.schedule.min_lr)
        group["base_lr"] = group["lr"]
    fused = {"fused": True} if _fused_ok(groups) else {}
    if opt.name == "sgd":
        return torch.optim.SGD(
            groups,
            lr=opt.lr,
            momentum=opt.momentum,
            nesterov=opt.nesterov,
            weight_decay=opt.weight_decay,
            **fused,
        )
    return torch.optim.AdamW(
        groups, lr=opt.lr, betas=opt.betas, eps=opt.eps, weight_decay=opt.weight_decay, **fused
    )


def _fused_ok(groups: list[dict[str, Any]]) -> bool:
    """Fused optimizer kernels where torch has them: every parameter on CUDA, or every one on the
    CPU (SGD and AdamW since torch 2.4). One kernel per step instead of several small operations
    per parameter: on a small network on a CPU the unfused update took about 3% of a step."""
    params = [p for g in groups for p in g["params"]]
    return bool(params) and (all(p.is_cuda for p in params) or all(p.device.type == "cpu" for p in params))


def learning_rate(base: float, minimum: float, recipe: Recipe, step: int, steps_per_epoch: int) -> float:
    """The lr of a group with base lr `base` and min lr `minimum` at global iteration `step`."""
    sched = recipe.schedule
    total_steps = recipe.epochs * steps_per_epoch
    if sched.name == "constant":
        value = base
    else:
        progress = step // steps_per_epoch / recipe.epochs if sched.by == "epoch" else step / total_steps
        value = minimum + (base - minimum) * (1 + math.cos(math.pi * progress)) / 2
    warmup_steps = int(sched.warmup_epochs * steps_per_epoch)
    if step < warmup_steps:
        k = (1 - step / warmup_steps) * (1 - sched.warmup_start_factor)
        value *= 1 - k
    return value


def set_learning_rates(
    optimizer: torch.optim.Optimizer, recipe: Recipe, step: int, steps_per_epoch: int
) -> float:
    """Set every group's lr for `step`; returns the first group's (the backbone's) lr."""
    for group in optimizer.param_groups:
        group["lr"] = learning_rate(group["base_lr"], group["min_lr"], recipe, step, steps_per_epoch)
    return optimizer.param_groups[0]["lr"]
