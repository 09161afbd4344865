"""Clean top-1 accuracy on a split."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from bench.runtime import Runtime


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
