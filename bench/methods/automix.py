"""AutoMix: a Mix Block that learns pixel masks for pairs, trained through an EMA teacher.

Z. Liu, S. Li, D. Wu, Z. Liu, Z. Chen, L. Wu, S. Z. Li, "AutoMix: Unveiling the Power of Mixup for
Stronger Classifiers", ECCV 2022, arXiv 2103.13027. Follows the released code that produced the
published numbers: OpenMixup `classifiers/automix.py` (AutoMixup) and `heads/pmix_block.py`
(PixelMixBlock) with the AutoMix configs; the EMA pipeline is `bench.methods.learned`.

One step:

1. Two lambdas ~ Beta(alpha, alpha) (alpha = 2) and two partner permutations: one pair for the
   generator ("mb") branch, one for the classifier ("bb") branch.
2. The teacher's stage-3 map z of the clean batch (one pass serves both branches).
3. Mix Block (`PixelMixBlock`): one shared 1x1 conv gives queries and keys (no activation, no
   norm), d = C/2; with `lam_concat` the first image's map gets a constant lambda channel and the
   partner's 1 - lambda. P = softmax_rows(q(z) k(z[pi])^T / sqrt(d)) in float32 (scores clamped to
   +-1e25), the partner's mask logit is P v(z[pi]) (the value comes from the partner only),
   upsampled (nearest) to image size; the partner's mask is its sigmoid and the first image gets
   one minus that. x_mix = (1 - M) x + M x[pi], label lambda y + (1 - lambda) y[pi].
4. Losses: the frozen teacher's mix head on the mb mix (CE with lambda_mb; gradients reach only the
   Mix Block) + w * max(|1 - mean(M_mb) - lambda_mb| - 0.1, 0) (the mask mean over the whole batch)
   + the online mix head on the bb mix made with detached masks (CE with lambda_bb) + the online
   one-hot head on the clean batch. `lam_margin`: when lambda_bb <= margin or >= 1 - margin the bb
   masks are the constants lambda_bb, 1 - lambda_bb (plain mixup). One backward pass; then the
   teacher's EMA step.

Where we follow the code (or had to choose):

* The mask-loss weight: the CIFAR CNN configs keep w = 0.1 for the whole run (`mask_loss_decay:
  none`, the default); the ImageNet, fine-grained and ViT configs add OpenMixup's
  CustomCosineAnnealingHook, which anneals from the *current* value every iteration, so w_t =
  w_{t-1} (1 + cos(pi t / T)) / 2 and the weight is below 1% of w_0 after 2-4% of training
  (`cosine_compounded`, what produced those numbers); `cosine` is the plain w_0 (1 + cos(pi t / T)) / 2
  the hook's documentation describes.
* The mixed-label weights are lambda, not the masks' pixel shares; the mask loss only ties them
  loosely (margin 0.1).
* The code stops with an error on a NaN attention map; we keep its guard on the mask logits
  (NaN -> 1e-4) in the graph instead of a host-side check; a NaN loss still stops the job.
* Options of the released class that the configs behind the AdAutoMix tables leave off are not
  implemented: mask_adjust, the pre-MixBlock heads, head_one_mix, and switch_off (1.0, a no-op, in
  the CIFAR Swin-T/ConvNeXt-T configs; 0.5 or 0.8 only in DeiT-B and ImageNet ViT configs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from bench.methods import sampling
from bench.methods.base import Paper, Preview
from bench.methods.learned import (
    PREVIEW_NOTE,
    LearnedMix,
    LearnedParams,
    buffers_kept,
    mix_images,
    mix_targets,
    upsample,
)
from bench.methods.targets import soft_cross_entropy
from bench.models import features
from bench.runtime import to_device

SCORE_CLAMP = 1e25


@dataclass(frozen=True)
class AutoMixParams(LearnedParams):
    """Defaults: OpenMixup's CIFAR-100 ResNet-18 config (cifar100/automix/basic/r18_l2_a2_near_L1_01_mlr5e_2.py)."""

    alpha: float = 2.0
    lam_margin: float = 0.08
    upsample: Literal["nearest", "bilinear", "bicubic"] = "nearest"
    mask_loss: float = 0.1  # w_0
    mask_loss_margin: float = 0.1
    mask_loss_decay: Literal["none", "cosine", "cosine_compounded"] = "none"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mask_loss < 0:
            raise ValueError(f"mask_loss must be >= 0, got {self.mask_loss}")
        if not 0 <= self.mask_loss_margin < 1:
            raise ValueError(f"mask_loss_margin must be in [0, 1), got {self.mask_loss_margin}")


class PixelMixBlock(nn.Module):
    """AutoMix's Mix Block: the partner's mask logits from non-local attention between the pair."""

    def __init__(self, channels: int, lam_concat: bool) -> None:
        super().__init__()
        self.channels, self.lam_concat = channels, lam_concat
        self.inner = max(channels // 2, 1)
        width = channels + int(lam_concat)
        self.query = nn.Conv2d(width, self.inner, 1)  # shared by queries and keys
        self.value = nn.Conv2d(width, 1, 1)

    def _project(self, conv: nn.Conv2d, z: torch.Tensor, perm: torch.Tensor, lam: float) -> torch.Tensor:
        """conv(cat(z[perm], lam)): the 1x1 conv on the map with its constant lambda channel."""
        out = F.conv2d(z, conv.weight[:, : self.channels], conv.bias)[perm]
        if self.lam_concat:
            out = out + conv.weight[:, self.channels].view(1, -1, 1, 1) * lam
        return out

    def forward(self, z: torch.Tensor, perm: torch.Tensor, lam: float) -> torch.Tensor:
        """Mask logits (B, 1, h, w) of the partners z[perm] mixed into z with weight `lam` for z."""
        batch, _, h, w = z.shape
        identity = torch.arange(batch, device=z.device)
        with torch.autocast(z.device.type, enabled=False):
            z = z.float()
            q = self._project(self.query, z, identity, lam).flatten(2)  # (B, d, hw)
            k = self._project(self.query, z, perm, 1 - lam).flatten(2)
            v = self._project(self.value, z, perm, 1 - lam).flatten(2)  # (B, 1, hw)
            scores = q.transpose(1, 2) @ k
            attention = (scores.clamp(-SCORE_CLAMP, SCORE_CLAMP) / self.inner**0.5).softmax(dim=-1)
            m = (attention @ v.transpose(1, 2)).view(batch, 1, h, w)
            return torch.where(m.isnan(), 1e-4, m)


class AutoMix(LearnedMix):
    paper = Paper(
        "Liu et al., AutoMix: Unveiling the Power of Mixup for Stronger Classifiers, ECCV 2022", "2103.13027"
    )
    Params = AutoMixParams

    def __init__(self, params: AutoMixParams, ctx) -> None:
        super().__init__(params, ctx)
        self.mask_weight = params.mask_loss  # the mask-loss weight of the coming step

    def build_block(self, channels: int) -> nn.Module:
        return PixelMixBlock(channels, self.p.lam_concat)

    def after_step(self, model: nn.Module) -> None:
        super().after_step(model)
        anneal = (1 + math.cos(math.pi * self._step / self.ctx.total_steps)) / 2
        if self.p.mask_loss_decay == "cosine":
            self.mask_weight = self.p.mask_loss * anneal
        elif self.p.mask_loss_decay == "cosine_compounded":
            self.mask_weight *= anneal

    def get_extra_state(self) -> dict[str, Any]:
        return {**super().get_extra_state(), "mask_weight": self.mask_weight}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        super().set_extra_state(state)
        self.mask_weight = float(state["mask_weight"])

    def draw(self, batch: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(perms, lam) for the mb and bb branches: perms (2, 2, B) [branch, image], lam (2,)."""
        lam = sampling.beta(self.p.alpha, self.ctx.generator, 2)
        identity = torch.arange(batch, device=device)
        partner_mb = self.partners(batch, device, strict=True)
        partner_bb = self.partners(batch, device, strict=False)
        return torch.stack([torch.stack([identity, partner_mb]), torch.stack([identity, partner_bb])]), lam

    def masks(self, z: torch.Tensor, perms: torch.Tensor, lam: float, size: tuple[int, int]) -> torch.Tensor:
        """Masks (B, 2, H, W) of the first image and its partner: 1 - sigmoid(m), sigmoid(m)."""
        partner = torch.sigmoid(upsample(self.block(z, perms[1], lam), size, self.p.upsample))
        return torch.cat([1 - partner, partner], dim=1)

    def loss(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        p, size = self.p, images.shape[-2:]
        targets = self.targets(labels)
        (perms_mb, perms_bb), lam = self.draw(images.shape[0], images.device)
        lam_mb, lam_bb = float(lam[0]), float(lam[1])
        weights_mb = torch.tensor([lam_mb, 1 - lam_mb])
        weights_bb = torch.tensor([lam_bb, 1 - lam_bb])

        z, _ = self.teacher_clean(images)
        masks_mb = self.masks(z, perms_mb, lam_mb, size)
        with torch.no_grad():
            masks_bb = self.masks(z, perms_bb, lam_bb, size)
        if p.lam_margin >= lam_bb or p.lam_margin >= 1 - lam_bb:
            masks_bb = to_device(weights_bb, images.device).view(1, 2, 1, 1)
        mixed_mb = mix_images(images, perms_mb, masks_mb)
        mixed_bb = mix_images(images, perms_bb, masks_bb)

        # Mix Block: the frozen teacher's mix head, and the mask/lambda loss
        teacher_ce = soft_cross_entropy(
            self.teacher_mix_logits(mixed_mb), mix_targets(targets, perms_mb, weights_mb)
        )
        mask_gap = (1 - masks_mb[:, 1].mean() - lam_mb).abs()
        mask_loss = (mask_gap - p.mask_loss_margin).clamp(min=0)

        # classifier: clean images (one-hot head), then the bb mix (mix head)
        pooled = self.online_pooled(model, [images, mixed_bb])
        one_ce = soft_cross_entropy(features.classifier(model)(pooled[0]), targets)
        mix_ce = soft_cross_entropy(self.head_mix(pooled[1]), mix_targets(targets, perms_bb, weights_bb))

        loss = mix_ce + one_ce + teacher_ce + self.mask_weight * mask_loss
        logs = {
            "mix_ce": mix_ce.detach(),
            "clean_ce": one_ce.detach(),
            "teacher_ce": teacher_ce.detach(),
            "mask_loss": mask_loss.detach(),
            "lam": lam_mb,
            "ema_momentum": self.ema_momentum(),
        }
        return loss, logs

    @torch.no_grad()
    def preview(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> Preview:
        """The Mix Block's mixes of the generator branch, with their label weights (lambda, 1 - lambda)."""
        (perms, _), lam = self.draw(images.shape[0], images.device)
        with buffers_kept(self.teacher, self.block):
            z, _ = self.teacher_clean(images)
            mixed = mix_images(images, perms, self.masks(z, perms, float(lam[0]), images.shape[-2:]))
        weights = torch.tensor([float(lam[0]), 1 - float(lam[0])], device=images.device)
        return Preview(
            mixed, perms.T.contiguous(), weights.expand(images.shape[0], -1).contiguous(), PREVIEW_NOTE
        )
