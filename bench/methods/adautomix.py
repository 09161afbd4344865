"""AdAutoMix: a Mix Block that mixes N images, trained adversarially against an EMA teacher.

H. Qin, X. Jin, Y. Jiang, M. A. El-Yacoubi, X. Gao, "Adversarial AutoMixup", ICLR 2024,
arXiv 2312.11954. Only the paper's opening could be read; everything below follows the released
code (JinXins/Adversarial-AutoMixup @ 9d6fd12: `classifiers/AdAutoMix.py`,
`heads/Ada_mix_pine.py`, and OpenMixup's near-identical copy `classifiers/adautomix.py`,
`heads/adaptive_mask.py`) and its configs. The shared EMA pipeline is `bench.methods.learned`.

One step (N images per mix; N = `mix_samples`, or drawn from {2..N} per step with `is_random`):

1. lambda: u_1..u_N ~ Beta(alpha, alpha) independently. N = 2: the generator ("mb") branch mixes
   (x, x[pi_mb]) with weights (u_1, 1 - u_1), the classifier ("bb") branch (x, x[pi_bb]) with
   (u_2, 1 - u_2). N >= 3: lambda_i = u_i / sum_j u_j (not a Dirichlet) for both branches, each
   with N fresh permutations of its own.
2. The teacher's stage-3 map z of the clean batch (one pass, also giving the teacher's logits on
   the clean images for the cosine term).
3. Mix Block (class `CrossAttentionMixBlock`, the code's AdaptiveMask) on z[pi_1..pi_N]:
   q_i = ReLU(Norm(Conv_q(z_i))), k_i = ReLU(Norm(Conv_k(z_i))), v_i = Conv_v(z_i) (1x1 convs, d = C/2,
   Norm the identity or BatchNorm), A_i = softmax_rows(q_i (sum_{j != i} k_j)^T / sqrt(d)) (for N = 2
   each image's queries meet the partner's keys), m_i = A_i v_i, upsampled to the image size, and
   masks M_i = softmax over i per pixel. Attention and masks in float32; scores clamped to +-1e25;
   NaN logits replaced as in the code (N = 2: 1e-4 for the first image, 1e4 for the second; N >= 3:
   0.3). With `lam_concat`, image i's map gets a constant channel lambda_i (N = 2: lambda, 1 - lambda).
4. x_mix = sum_i M_i x[pi_i], label sum_i lambda_i y[pi_i]. The bb masks are detached; with
   `lam_margin`, when lambda is extreme (N = 2: lambda_bb <= margin or >= 1 - margin; N >= 3:
   lambda_1 <= margin or 1 - lambda_1 < margin) they are replaced by the constants lambda_i (plain
   mixup).
5. Classifier: L_W = CE(mix head(x_mix^bb)) + CE(one-hot head(x)) for N = 2; for N >= 3
   L_W = CE(mix head(x_mix^bb)) + (1 - a) CE(one-hot head(x)) + a CE(mix head(x_lin)), with x_lin =
   sum_i lambda_i x[pi_bb_i] and a = `mixup_ratio` (the code's `mixup_radio`, 0.5).
6. Generator, through the frozen teacher's mix head on x_mix^mb: CE_k = sum_i lambda_i CE(., y[pi_i])
   and cos = mean_b sum_i lambda_i cos(logits(x_mix), logits(x[pi_i])) (teacher logits of the sources,
   no gradient). Every `adv_interval`-th iteration (0, 2, 4, ... for 2) L_G = -beta CE_k + (1 - beta) cos,
   otherwise L_G = CE_k. One backward pass of L_W + L_G updates the classifier, the mix head and
   the Mix Block together; then the teacher takes its EMA step.

Where we follow the code (the paper body could not be read, or the two sources differ):

* The sign of the cosine term: on adversarial iterations the code *minimises* +(1 - beta) cos, i.e.
  pushes the mix's teacher prediction away from its sources' predictions, although the stated
  purpose of the term is to keep the mix's meaning. We copy the code's sign.
* N >= 3 lam_margin: the official repository tests `lambda_1 <= margin or 1 - lambda_1 < margin`.
  OpenMixup's copy has `margin < 1 - lambda_1`, which is true almost always, so there the
  classifier would see plain mixup on nearly every step; we follow the official repository.
* The plain-mixup term (N >= 3) is scored with the mix head, as in the code.
* The mixed-label loss uses lambda, never the masks' pixel shares.
* `upsample: random` is the code's `unsampling_mode='None'`: one of bilinear, nearest, bicubic is
  drawn once (the code overwrites its setting on the first call) and kept for the whole run.
* `mix_shuffle_no_repeat` (CUB RX50 only): pi_mb is drawn strictly without fixed points and pi_bb
  leniently (OpenMixup's procedure); for N >= 3 those two are the first two generator-branch
  permutations and the others are plain, as in the code.
* The code passes the teacher over each permuted source batch for the cosine term; we reuse the
  clean pass's logits (a permuted batch has the same batch statistics, so the logits are the same)
  and replay those passes' effect on the teacher's BatchNorm running statistics (up to rounding)
  (`BatchNormReplay`). With drop-path (ViTs) the code would draw fresh drop-path masks for those
  passes; ours share the clean pass's.
* `switch_off` (the code's `forward_k`): when > 0, each step draws u ~ U(0, 1) and trains the Mix
  Block only if u <= switch_off (the code skips when `rand() > switch_off * cos_annealing`, and
  `cos_annealing` stays 1: no released AdAutoMix config anneals it). A skipped step has no generator
  loss and no teacher pass on the generator's mix; the classifier's step and the adversarial
  alternation (by step count) go on. The released configs leave it at 0; the Swin-T and ConvNeXt-T
  logs behind the published values set 0.8. The released class would fail on a skipped adversarial
  step (it multiplies the missing loss); OpenMixup's copy guards it, as we do.
* The code's host-side NaN checks are replaced by the in-graph guards above; a NaN loss still stops
  the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from bench.methods import sampling
from bench.methods.base import Paper, Preview
from bench.methods.learned import (
    PREVIEW_NOTE,
    BatchNormReplay,
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

UPSAMPLE_MODES = ("bilinear", "nearest", "bicubic")
SCORE_CLAMP = 1e25  # the code clamps overflowing attention scores to +-1e25


@dataclass(frozen=True)
class AdAutoMixParams(LearnedParams):
    """Defaults: the CIFAR-100 ResNet-18 config (configs/classification/cifar100/basic/r18_adautomix_bilinear.py)."""

    mix_samples: int = 3  # N: images per mix (2 for ImageNet)
    is_random: bool = False  # draw N uniformly from {2, ..., mix_samples} every step
    beta: float = 0.3  # `beta_radio`: weight of -CE against the cosine term on adversarial steps
    mixup_ratio: float = 0.5  # `mixup_radio`: weight of the plain-mixup term (N >= 3)
    adv_interval: int = 2  # one adversarial step every adv_interval steps
    upsample: Literal["bilinear", "nearest", "bicubic", "random"] = "bilinear"
    block_norm: Literal["none", "bn"] = "none"  # norm after the q/k convs (BN: ImageNet R-50 config)
    switch_off: float = 0.0  # > 0: the chance a step trains the Mix Block (the code's switch_off)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mix_samples < 2:
            raise ValueError(f"mix_samples (N, images per mix) must be >= 2, got {self.mix_samples}")
        if not 0 <= self.beta <= 1:
            raise ValueError(f"beta must be in [0, 1], got {self.beta}")
        if not 0 <= self.mixup_ratio <= 1:
            raise ValueError(f"mixup_ratio must be in [0, 1], got {self.mixup_ratio}")
        if self.adv_interval < 1:
            raise ValueError(f"adv_interval must be >= 1, got {self.adv_interval}")
        if not 0 <= self.switch_off <= 1:
            raise ValueError(
                f"switch_off must be in [0, 1] (0: the Mix Block trains every step), got {self.switch_off}"
            )


class CrossAttentionMixBlock(nn.Module):
    """The AdAutoMix Mix Block: per-image mask logits from cross-attention between N feature maps.

    The 1x1 convolutions act on each image's map with its lambda channel appended; they are
    computed once on the un-permuted batch and the lambda channel's (constant) contribution is
    added per image, which is the same linear map.
    """

    def __init__(self, channels: int, lam_concat: bool, norm: str) -> None:
        super().__init__()
        self.channels, self.lam_concat = channels, lam_concat
        self.inner = max(channels // 2, 1)  # reduction 2
        width = channels + int(lam_concat)
        biased = norm == "none"  # mmcv ConvModule: bias only without a norm layer
        self.query = nn.Conv2d(width, self.inner, 1, bias=biased)
        self.key = nn.Conv2d(width, self.inner, 1, bias=biased)
        self.value = nn.Conv2d(width, 1, 1)
        self.query_norm = nn.BatchNorm2d(self.inner) if norm == "bn" else nn.Identity()
        self.key_norm = nn.BatchNorm2d(self.inner) if norm == "bn" else nn.Identity()

    def _project(
        self, conv: nn.Conv2d, z: torch.Tensor, perms: torch.Tensor, lam: torch.Tensor
    ) -> torch.Tensor:
        """conv(cat(z[perms[i]], lam[i])) for every image i: (N, B, out, h, w)."""
        weight = conv.weight[:, : self.channels]
        out = F.conv2d(z, weight, conv.bias)[perms]
        if self.lam_concat:
            out = out + conv.weight[:, self.channels].view(1, 1, -1, 1, 1) * lam.view(-1, 1, 1, 1, 1)
        return out

    def forward(self, z: torch.Tensor, perms: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
        """Mask logits m (B, N, h, w) for the mixes of images perms (N, B) with weights lam (N,)."""
        n, (batch, _, h, w) = perms.shape[0], z.shape
        with torch.autocast(z.device.type, enabled=False):
            z, lam = z.float(), to_device(lam, z.device).float()
            q = self._project(self.query, z, perms, lam)
            k = self._project(self.key, z, perms, lam)
            v = self._project(self.value, z, perms, lam).flatten(2)  # (N, B, h*w)
            q = torch.stack([F.relu(self.query_norm(q[i])) for i in range(n)]).flatten(3)
            k = torch.stack([F.relu(self.key_norm(k[i])) for i in range(n)]).flatten(3)
            others = torch.stack([sum(k[j] for j in range(n) if j != i) for i in range(n)])
            scores = q.transpose(-1, -2) @ others  # (N, B, hw, hw): queries of i, keys of the others
            attention = (scores.clamp(-SCORE_CLAMP, SCORE_CLAMP) / self.inner**0.5).softmax(dim=-1)
            m = (attention @ v.unsqueeze(-1)).view(n, batch, h, w).transpose(0, 1)
            fills = (1e-4, 1e4) if n == 2 else (0.3,) * n
            return torch.stack(
                [torch.where(m[:, i].isnan(), fill, m[:, i]) for i, fill in enumerate(fills)], 1
            )


class AdAutoMix(LearnedMix):
    paper = Paper("Qin et al., Adversarial AutoMixup, ICLR 2024", "2312.11954")
    Params = AdAutoMixParams
    version = 2  # 2: switch_off

    def __init__(self, params: AdAutoMixParams, ctx) -> None:
        super().__init__(params, ctx)
        self.upsample_mode = params.upsample

    def build_block(self, channels: int) -> nn.Module:
        if self.p.upsample == "random":
            self.upsample_mode = UPSAMPLE_MODES[
                int(sampling.randint(len(UPSAMPLE_MODES), self.ctx.generator))
            ]
        return CrossAttentionMixBlock(channels, self.p.lam_concat, self.p.block_norm)

    def setup(self, model: nn.Module) -> None:
        super().setup(model)
        self.replay = BatchNormReplay(self.teacher)

    def get_extra_state(self) -> dict[str, Any]:
        return {**super().get_extra_state(), "upsample": self.upsample_mode}

    def classifier_passes(
        self, model: nn.Module, images: torch.Tensor, mixed: torch.Tensor
    ) -> dict[str, tuple]:
        """AdAutoMix's classifier also trains on the plain (linear) mixup of the batch."""
        clean, generated = super().classifier_passes(model, images, mixed).items()
        return dict([clean, ("classifier fwd+bwd, linear mix", (mixed, self.head_mix)), generated])

    def set_extra_state(self, state: dict[str, Any]) -> None:
        super().set_extra_state(state)
        self.upsample_mode = state["upsample"]

    # --- sampling -----------------------------------------------------------------------------

    def draw(
        self, batch: int, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(perms_mb, lam_mb, perms_bb, lam_bb): permutations (N, B) and label weights (N,) per branch."""
        p, gen = self.p, self.ctx.generator
        n = 2 + int(sampling.randint(p.mix_samples - 1, gen)) if p.is_random else p.mix_samples
        u = sampling.beta(p.alpha, gen, n)
        identity = torch.arange(batch, device=device)
        partner_mb = self.partners(batch, device, strict=True)
        partner_bb = self.partners(batch, device, strict=False)
        if n == 2:
            return (
                torch.stack([identity, partner_mb]),
                torch.stack([u[0], 1 - u[0]]),
                torch.stack([identity, partner_bb]),
                torch.stack([u[1], 1 - u[1]]),
            )
        lam = u / u.sum()
        fresh = [sampling.permutation(batch, gen, device) for _ in range(2 * n - 2)]
        # with fixed partners (bench visualize) the mix shows each sample, its partner and N - 2 others
        lead = [identity, partner_mb] if self._fixed_partners is not None else [partner_mb, partner_bb]
        return torch.stack([*lead, *fresh[: n - 2]]), lam, torch.stack(fresh[n - 2 :]), lam

    def margin_hit(self, lam_bb: torch.Tensor) -> bool:
        """The classifier branch falls back to plain mixup (the code's `lam_margin` tests)."""
        margin, first = self.p.lam_margin, float(lam_bb[0])
        if len(lam_bb) == 2:
            return margin >= first or margin >= 1 - first
        return margin >= first or margin > 1 - first

    def masks(
        self, z: torch.Tensor, perms: torch.Tensor, lam: torch.Tensor, size: tuple[int, int]
    ) -> torch.Tensor:
        """Soft masks (B, N, H, W): non-negative, summing to 1 at every pixel."""
        logits = upsample(self.block(z, perms, lam), size, self.upsample_mode)
        return logits.softmax(dim=1)

    # --- the step -----------------------------------------------------------------------------

    def loss(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        p, size = self.p, images.shape[-2:]
        targets = self.targets(labels)
        perms_mb, lam_mb, perms_bb, lam_bb = self.draw(images.shape[0], images.device)
        n = perms_mb.shape[0]

        self.replay.start()
        z, clean_logits = self.teacher_clean(images)
        self.replay.batch_seen()

        train_block = self.generator_on()
        with torch.set_grad_enabled(train_block and torch.is_grad_enabled()):
            mixed_mb = mix_images(images, perms_mb, self.masks(z, perms_mb, lam_mb, size))
        with torch.no_grad():  # the classifier branch's masks carry no gradient
            masks_bb = self.masks(z, perms_bb, lam_bb, size)
        if self.margin_hit(lam_bb):
            masks_bb = to_device(lam_bb, images.device).view(1, n, 1, 1)
        mixed_bb = mix_images(images, perms_bb, masks_bb)
        targets_mb, targets_bb = (
            mix_targets(targets, perms_mb, lam_mb),
            mix_targets(targets, perms_bb, lam_bb),
        )

        adversarial = self._step % p.adv_interval == 0
        teacher_ce, cosine = self.generator_terms(
            mixed_mb, clean_logits, targets_mb, perms_mb, lam_mb, train_block
        )
        loss_g = -p.beta * teacher_ce + (1 - p.beta) * cosine if adversarial else teacher_ce

        # classifier: clean images (one-hot head), plain mixup (N >= 3), generated mix (mix head)
        batches = (
            [images, mix_images(images, perms_bb, to_device(lam_bb, images.device).view(1, n, 1, 1))]
            if n > 2
            else [images]
        )
        pooled = self.online_pooled(model, [*batches, mixed_bb])
        one_ce = soft_cross_entropy(features.classifier(model)(pooled[0]), targets)
        mix_ce = soft_cross_entropy(self.head_mix(pooled[-1]), targets_bb)
        if n > 2:
            linear_ce = soft_cross_entropy(self.head_mix(pooled[1]), targets_bb)
            loss_w = mix_ce + (1 - p.mixup_ratio) * one_ce + p.mixup_ratio * linear_ce
        else:
            loss_w = mix_ce + one_ce

        logs = {
            "mix_ce": mix_ce.detach(),
            "clean_ce": one_ce.detach(),
            "teacher_ce": teacher_ce.detach(),
            "cosine": cosine.detach(),
            "adversarial": float(adversarial),
            "generator_on": float(train_block),
            "lam": float(lam_mb[0]),
            "images_per_mix": float(n),
            "ema_momentum": self.ema_momentum(),
        }
        return loss_w + loss_g, logs

    def generator_on(self) -> bool:
        """Whether this step trains the Mix Block: always without `switch_off`, else with probability
        switch_off (one draw from the method's generator)."""
        p = self.p
        return p.switch_off <= 0 or sampling.uniform(0.0, 1.0, self.ctx.generator) <= p.switch_off

    def generator_terms(
        self,
        mixed_mb: torch.Tensor,
        clean_logits: torch.Tensor,
        targets_mb: torch.Tensor,
        perms_mb: torch.Tensor,
        lam_mb: torch.Tensor,
        train_block: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(teacher CE, cosine term) of the frozen teacher's mix head on the generator-branch mix;
        zeros without a teacher pass on a step `switch_off` skips."""
        if not train_block:
            zero = mixed_mb.new_zeros(())
            return zero, zero
        n = perms_mb.shape[0]
        mix_logits = self.teacher_mix_logits(mixed_mb)
        self.replay.replay(n)  # the code's teacher passes over the N source batches (cosine term)
        teacher_ce = soft_cross_entropy(mix_logits, targets_mb)
        cosine = sum(
            float(lam_mb[i])
            * F.cosine_similarity(mix_logits.float(), clean_logits[perms_mb[i]].float(), dim=-1)
            for i in range(n)
        ).mean()
        return teacher_ce, cosine

    @torch.no_grad()
    def preview(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> Preview:
        """The generator's mixes (the branch the Mix Block is trained on) and their label weights."""
        perms, lam, _, _ = self.draw(images.shape[0], images.device)
        with buffers_kept(self.teacher, self.block):
            z, _ = self.teacher_clean(images)
            mixed = mix_images(images, perms, self.masks(z, perms, lam, images.shape[-2:]))
        weights = lam.to(images.device).expand(images.shape[0], -1)
        return Preview(mixed, perms.T.contiguous(), weights.contiguous(), note=PREVIEW_NOTE)
