"""Parameter groups: a method's own modules keep their lr and min lr and follow the recipe's decay rule."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from bench.optim import build_optimizer, set_learning_rates
from bench.recipe import Optimizer, Recipe, Schedule

ROOT = Path(__file__).parent.parent


def recipe(decay_norm_and_bias: bool) -> Recipe:
    return Recipe(
        epochs=10,
        optimizer=Optimizer(lr=0.1, weight_decay=1e-4, decay_norm_and_bias=decay_norm_and_bias),
        schedule=Schedule(min_lr=0.05),
    )


@pytest.mark.parametrize("decay_norm_and_bias", [True, False])
def test_method_groups_keep_their_lr_and_follow_the_decay_rule(decay_norm_and_bias: bool) -> None:
    model, block = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)), nn.Conv2d(4, 1, 1)
    optimizer = build_optimizer(
        model, recipe(decay_norm_and_bias), [{"params": list(block.parameters()), "lr": 0.01, "min_lr": 1e-3}]
    )
    groups = {(id(p)): g for g in optimizer.param_groups for p in g["params"]}
    assert groups[id(block.weight)]["lr"] == 0.01 and groups[id(block.weight)]["weight_decay"] == 1e-4
    assert groups[id(block.bias)]["weight_decay"] == (1e-4 if decay_norm_and_bias else 0.0)
    assert groups[id(model[1].weight)]["weight_decay"] == (1e-4 if decay_norm_and_bias else 0.0)
    assert groups[id(model[0].weight)]["lr"] == 0.1 and groups[id(model[0].weight)]["min_lr"] == 0.05
    assert all(g["params"] for g in optimizer.param_groups)
    # each group anneals from its own base lr to its own min lr
    set_learning_rates(optimizer, recipe(decay_norm_and_bias), step=10 * 5 - 1, steps_per_epoch=5)
    assert groups[id(block.weight)]["lr"] == pytest.approx(
        1e-3 + (0.01 - 1e-3) * (1 + torch.cos(torch.tensor(0.9 * torch.pi)).item()) / 2
    )


def _exempt(optimizer: torch.optim.Optimizer, model: nn.Module) -> set[str]:
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)] for g in optimizer.param_groups if g["weight_decay"] == 0 for p in g["params"]}


def test_named_parameters_are_exempt_whatever_their_shape() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    model.register_parameter("relative_position_bias_table", nn.Parameter(torch.zeros(5, 2)))
    named = Recipe(optimizer=Optimizer(no_decay_names=("relative_position_bias_table",)))
    assert _exempt(build_optimizer(model, named), model) == {"relative_position_bias_table"}
    vit = Recipe(optimizer=Optimizer(decay_norm_and_bias=False, no_decay_names=("position_bias",)))
    assert _exempt(build_optimizer(model, vit), model) == {
        "0.bias",
        "1.weight",
        "1.bias",
        "relative_position_bias_table",
    }


def test_a_name_that_matches_no_parameter_is_an_error() -> None:
    from bench.errors import BenchError

    with pytest.raises(BenchError, match="'absolute_pos_embed' is part of no parameter name"):
        build_optimizer(nn.Linear(2, 2), Recipe(optimizer=Optimizer(no_decay_names=("absolute_pos_embed",))))


# OpenMixup's paramwise_options of the CIFAR-100 ViT configs (weight_decay 0 where re.search matches)
OPENMIXUP_NO_DECAY = {
    "swin_tiny": [
        r"(bn|ln|gn)(\d+)?.(weight|bias)",
        "norm",
        "bias",
        "absolute_pos_embed",
        "relative_position_bias_table",
    ],
    "convnext_tiny": [r"(bn|ln|gn)(\d+)?.(weight|bias)", "norm", "bias", "gamma"],
}


@pytest.mark.parametrize(
    ("backbone", "image_size", "method"), [("swin_tiny", 224, "vanilla"), ("convnext_tiny", 32, "adautomix")]
)
def test_table1_vit_recipes_exempt_what_openmixup_and_timm_exempt(
    backbone: str, image_size: int, method: str
):
    """OpenMixup's patterns, applied to the names of our networks (and of AdAutoMix's Mix Block and
    mix head, which OpenMixup names mix_block.* and head_mix.*), select exactly what we exempt."""
    import re

    from bench import registry, schema
    from bench.methods.base import MethodContext
    from bench.models.backbones import build_backbone
    from bench.suite import load

    (job,) = [
        j
        for j in load(ROOT / "suites" / "paper_table1.yaml").jobs
        if (j.dataset, j.backbone, j.method, j.seed) == ("cifar100", backbone, method, 0)
    ]
    model = build_backbone(backbone, num_classes=100, image_size=image_size, stem="auto", pretrained=None)
    cls = registry.get("methods", method).load()
    ctx = MethodContext(
        num_classes=100,
        image_size=image_size,
        label_smoothing=0.1,
        generator=torch.Generator(),
        device=torch.device("cpu"),
        steps_per_epoch=1,
        total_steps=1,
        backbone=backbone,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
    )
    mixer = cls(schema.build(cls.Params, job.params), ctx)
    mixer.setup(model)
    optimizer = build_optimizer(model, job.recipe, mixer.param_groups(), mixer)
    names = {id(p): n for n, p in mixer.named_parameters()} | {id(p): n for n, p in model.named_parameters()}
    trained = {names[id(p)] for g in optimizer.param_groups for p in g["params"]}
    exempt = {names[id(p)] for g in optimizer.param_groups if g["weight_decay"] == 0 for p in g["params"]}
    openmixup = {n for n in trained if any(re.search(k, n) for k in OPENMIXUP_NO_DECAY[backbone])}
    assert exempt == openmixup
    declared = model.no_weight_decay() if hasattr(model, "no_weight_decay") else set()
    assert declared <= exempt and (backbone != "swin_tiny" or len(declared) == 12)  # timm's own list
    if method == "adautomix":
        assert {"block.key.bias", "head_mix.bias"} <= exempt and "block.key.weight" not in exempt
    # what a shape rule would get wrong: ConvNeXt's stem and downsampling LayerNorm weights decay
    one_d = {n for n in trained if n in dict(model.named_parameters()) and model.get_parameter(n).ndim <= 1}
    assert sorted(one_d - exempt) == (
        []
        if backbone == "swin_tiny"
        else [
            "stages.1.downsample.0.weight",
            "stages.2.downsample.0.weight",
            "stages.3.downsample.0.weight",
            "stem.1.weight",
        ]
    )
