"""Vanilla: empirical risk minimisation on clean images, the baseline every table starts with."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from bench.methods.base import Kind, Method, Paper
from bench.methods.targets import soft_cross_entropy


class Vanilla(Method):
    paper = Paper("cross-entropy on clean images (empirical risk minimisation)")
    kind = Kind.NONE

    def loss(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        return soft_cross_entropy(model(images), self.targets(labels)), {}
