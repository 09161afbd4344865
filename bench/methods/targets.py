"""Soft targets and the one loss every method uses.

Every method works with soft target rows (non-negative, summing to 1). The classic mixup loss
lam*CE(y_a) + (1-lam)*CE(y_b) is linear in the target, so it equals soft-target cross-entropy
with mixed one-hot rows; one loss serves every method, and label smoothing is folded in here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bench.runtime import to_device


def one_hot(labels: torch.Tensor, num_classes: int, smoothing: float = 0.0) -> torch.Tensor:
    """Float target rows: (1 - smoothing) on the label plus smoothing / num_classes everywhere."""
    targets = F.one_hot(labels, num_classes).float()
    if smoothing:
        targets = targets * (1.0 - smoothing) + smoothing / num_classes
    return targets


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -sum(target * log_softmax(logits)), computed in float32."""
    return -(targets * F.log_softmax(logits.float(), dim=-1)).sum(dim=-1).mean()


def mix_targets(targets: torch.Tensor, perm: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """lam_i * targets_i + (1 - lam_i) * targets_perm[i], with lam a scalar or one per sample."""
    lam = to_device(lam, targets.device).to(targets.dtype).reshape(-1, 1)
    return lam * targets + (1.0 - lam) * targets[perm]
