"""White-box L-inf attacks in [0, 1] pixel space, as the mixup papers define FGSM.

Every attack sees a `PixelSpace` model: it takes images in [0, 1] and normalises them inside, so
the budget ε is in pixel units and clamping to [0, 1] happens where pixels live. (The AdAutoMix
release adds the step to the *normalised* tensor and clamps that to [0, 1]: a weaker, distorted
attack; its published FGSM errors are not comparable with these.)

* FGSM (Goodfellow et al., arXiv 1412.6572): x + ε·sign(∇ₓ CE(f(x), y)), clamped to [0, 1]; one
  untargeted step, no random start. FGSM error = 100 − top-1 on the attacked test set.
* PGD (Madry et al., arXiv 1706.06083): `steps` sign steps of `step_size` from a uniform random
  start in the ε-ball (optional), each projected back to the ball and to [0, 1]; with restarts, a
  point is robust only if it survives every restart.
* AutoAttack (Croce & Hein, arXiv 2003.01690): the reference implementation (`pyautoattack`, the
  package RobustBench uses), not torchattacks' re-implementation, whose APGD components run 10
  iterations instead of the reference's 100.

FGSM and PGD are written here (a few lines each) rather than taken from torchattacks, whose
package metadata pins `requests~=2.25.1` and pulls a torchvision it never imports; the tests check
that they produce exactly torchattacks' adversarial images. The loss is summed over the batch
(torchattacks averages): the sign of the gradient is the same, and a large batch in bf16 cannot
underflow it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import BenchError

Attack = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


class PixelSpace(nn.Module):
    """`net` behind its input normalisation: takes [0, 1] images (N, 3, H, W), returns fp32 logits.

    The runtime's autocast and memory format are applied inside, so attacks and evaluation code
    never see normalised tensors or reduced precision.
    """

    def __init__(
        self,
        net: nn.Module,
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
        *,
        autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.autocast = autocast
        self.channels_last = channels_last

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = (images - self.mean) / self.std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with self.autocast():
            return self.net(x).float()


def input_gradient(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """∇ of the summed cross-entropy with respect to the images only (no parameter gradients)."""
    x = images.detach().requires_grad_(True)
    loss = F.cross_entropy(model(x), labels, reduction="sum")
    return torch.autograd.grad(loss, x)[0]


def fgsm(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float) -> torch.Tensor:
    """One untargeted signed-gradient step of size `eps`, clamped to [0, 1]."""
    grad = input_gradient(model, images, labels)
    return (images + eps * grad.sign()).clamp(0, 1).detach()


def pgd(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float,
    step_size: float,
    steps: int,
    random_start: bool,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """L-inf PGD; the random start is drawn from `generator` (CPU) so it is the same on any device."""
    adv = images.detach()
    if random_start:
        noise = torch.rand(images.shape, generator=generator).to(images.device) * (2 * eps) - eps
        adv = (images + noise).clamp(0, 1)
    for _ in range(steps):
        grad = input_gradient(model, adv, labels)
        adv = adv + step_size * grad.sign()
        delta = (adv - images).clamp(-eps, eps)
        adv = (images + delta).clamp(0, 1).detach()
    return adv


def autoattack(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float,
    version: str,
    seed: int,
    batch_size: int,
) -> torch.Tensor:
    """The reference AutoAttack on the whole (N, 3, H, W) set at once (it attacks only the points
    every previous attack left robust, so it needs all of them)."""
    try:
        from pyautoattack import AutoAttack
    except ImportError:
        raise BenchError(
            "--autoattack needs the reference AutoAttack implementation: "
            "pip install 'mixup-bench[robustness]' (package pyautoattack)"
        ) from None
    attack = AutoAttack(model, norm="Linf", eps=eps, version=version, seed=seed, device=images.device)
    adversarial, _ = attack.run_standard_evaluation(images, labels, batch_size=batch_size)
    return adversarial.detach()
