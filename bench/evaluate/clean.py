"""Clean top-1 accuracy on a split."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from bench.runtime import Runtime

if TYPE_CHECKING:
    from bench.evaluate.config import CleanSettings
    from bench.evaluate.context import EvaluationContext


@torch.no_grad()
def top1(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], rt: Runtime) -> float:
    """Top-1 accuracy in percent; the model is put in eval mode and restored afterwards."""
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=rt.device)
    total = 0
    for images, labels in batches:
        with rt.autocast():
            logits = model(images)
        correct += (logits.argmax(dim=-1) == labels).sum()
        total += labels.numel()
    model.train(was_training)
    return 100.0 * correct.item() / max(total, 1)


def evaluate(context: EvaluationContext, settings: CleanSettings) -> dict[str, dict[str, Any]]:
    """The clean evaluator (bench/evaluate/config.py): top-1 of every network on the test split."""
    return {
        name: {"top1": 100.0 * float(hit.float().mean()), "n": int(hit.numel())}
        for name, (_, hit) in context.predictions(settings.batch_size).items()
    }
