"""Parameter groups: a method's own modules keep their lr and min lr and follow the recipe's decay rule."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.optim import build_optimizer, set_learning_rates
from bench.recipe import Optimizer, Recipe, Schedule


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
