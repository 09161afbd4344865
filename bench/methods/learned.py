"""The momentum pipeline AutoMix and AdAutoMix share (OpenMixup `AutoMixup` and `AdAutoMix`).

Networks, as in the released code:

* the online classifier q is the harness's model: backbone plus its own linear head, the "one-hot"
  head (trained on clean images); the method owns a second linear head of the same shape, the
  "mix" head (trained on mixed images), initialised N(0, 0.01) with zero bias like OpenMixup's
  heads (the one-hot head keeps the backbone's own initialisation, as for every other method);
* the EMA teacher k holds copies of the backbone and both heads, with `requires_grad=False`. It
  moves only in `after_step`: W_k <- m W_k + (1 - m) W_q over parameters (not buffers, as
  `momentum_update`). Like the released code it runs in train mode during a step, so its batch
  norms use batch statistics there and its running statistics come from its own passes;
* the Mix Block (a method's `block`) is the generator: it reads the teacher's stage-3 map of the
  clean batch (`bench.models.features`) and is trained only through the frozen teacher.

EMA momentum (OpenMixup `CosineScheduleHook`, warming_up "constant"): m = m0 for the first
`ema_hold` of the iterations, then m(t) = m_end - (m_end - m0) (cos(pi t / T) + 1) / 2 with t the
0-based iteration and T the total; the step counter is checkpointed (`get_extra_state`), so a
resumed run continues the schedule exactly. With `ema_hold: 0` the hook would set m = 0 at
iteration 0 (its `restart_step` branch); no released config does that, and it is not reproduced.

Online passes: on a network with batch norm every pass is its own forward (its batch statistics
and its running-statistic update are part of the method); on a network without one (Swin,
ConvNeXt) the passes are batched into one forward, which computes the same thing.

Previews show the generator-branch mix (what the Mix Block is trained on, through the teacher);
the classifier sees mixes from the same Mix Block with its own lambda and partners.

Reported networks: `online` (q, one-hot head), `online_mix` (q, mix head), `ema` (k, one-hot
head), `ema_mix` (k, mix head). The published numbers are the teacher's: the primary network is
`ema|ema_mix`, the larger of the two after reducing (OpenMixup's find_automix_val_median).
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from bench.errors import BenchError
from bench.methods import sampling
from bench.methods.base import Kind, Method
from bench.methods.targets import soft_cross_entropy
from bench.models import features
from bench.runtime import to_device

PREVIEW_NOTE = "generator mix (to teacher)"  # the classifier sees the same generator's other draw
INIT_STD = 0.01  # OpenMixup initialises the Mix Block's convolutions and the heads N(0, 0.01)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True)
class LearnedParams:
    """Settings both methods share; the released configs set them per dataset and backbone."""

    alpha: float = 1.0  # lambda ~ Beta(alpha, alpha)
    lam_margin: float = 0.03  # classifier-branch fallback to plain mixup near lambda 0 or 1
    lam_concat: bool = False  # append each image's lambda as a constant feature channel
    mix_block_lr: float | None = None  # None: the recipe's lr
    mix_block_min_lr: float | None = None  # None: the recipe's min lr
    ema_start: float = 0.999  # m0
    ema_end: float = (
        0.999999  # m_end (CIFAR CNNs, Tiny-ImageNet; 0.99999 ImageNet/fine-grained; 0.99996 ViTs)
    )
    ema_hold: float = 0.1  # fraction of iterations at m0 before the cosine (0.25 for ViTs)
    mix_shuffle_no_repeat: bool = False  # partners never the sample itself (OpenMixup option)

    def __post_init__(self) -> None:
        _check(self.alpha > 0, f"alpha must be > 0, got {self.alpha}")
        _check(0 <= self.lam_margin < 0.5, f"lam_margin must be in [0, 0.5), got {self.lam_margin}")
        for key in ("mix_block_lr", "mix_block_min_lr"):
            value = getattr(self, key)
            _check(value is None or value >= 0, f"{key} must be >= 0, got {value}")
        for key in ("ema_start", "ema_end"):
            value = getattr(self, key)
            _check(0 < value < 1, f"{key} (EMA momentum) must be in (0, 1), got {value}")
        _check(
            self.ema_start <= self.ema_end,
            f"ema_start must be <= ema_end (the momentum rises), got {self.ema_start} > {self.ema_end}",
        )
        _check(0 <= self.ema_hold < 1, f"ema_hold must be in [0, 1), got {self.ema_hold}")


def ema_momentum(step: int, total: int, start: float, end: float, hold: float) -> float:
    """The teacher's momentum for the update after 0-based iteration `step` of `total`."""
    if step < int(total * hold):
        return start
    return end - (end - start) * (math.cos(math.pi * step / total) + 1) / 2


@torch.no_grad()
def ema_update(teacher: list[torch.Tensor], online: list[torch.Tensor], momentum: float) -> None:
    """teacher <- teacher * m + online * (1 - m), rounded exactly as the released code does."""
    torch._foreach_mul_(teacher, momentum)
    torch._foreach_add_(teacher, torch._foreach_mul(online, 1.0 - momentum))


def mix_images(images: torch.Tensor, perms: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """sum_i masks[:, i] * images[perms[i]]: perms (N, B), masks (B, N, H, W) or (1, N, 1, 1)."""
    mixed = masks[:, :1] * images[perms[0]]
    for i in range(1, perms.shape[0]):
        mixed = mixed + masks[:, i : i + 1] * images[perms[i]]
    return mixed


def mix_targets(targets: torch.Tensor, perms: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """sum_i lam[i] * targets[perms[i]]: the label of a mix of N images with weights lam (N,)."""
    lam = to_device(lam, targets.device).to(targets.dtype)
    return sum(lam[i] * targets[perms[i]] for i in range(perms.shape[0]))


def upsample(maps: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """Mask logits (B, N, h, w) to image size; the size is a whole multiple (checked by the caller)."""
    return F.interpolate(maps, size=size, mode=mode, align_corners=None if mode == "nearest" else False)


def batch_norms(net: nn.Module) -> list[_BatchNorm]:
    return [m for m in net.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]


class BatchNormReplay:
    """Replays extra train-mode passes of a network over the same batch on its running statistics.

    The released AdAutoMix code passes the teacher over the clean batch (permuted) once per source
    image for its cosine term; a permuted batch has the same batch statistics, so those passes give
    permuted copies of the logits the feature pass already computed, and their only other effect
    is on the running statistics. `start()` before the clean pass, `batch_seen()` after it (the
    batch statistics are read back from the running-statistic change), `replay(k)` applies k more
    updates with them: r <- (1 - mu)^k r + (1 - (1 - mu)^k) s, as k passes would (up to rounding).
    """

    def __init__(self, net: nn.Module) -> None:
        self.layers = [m for m in batch_norms(net) if m.momentum is not None]  # timm uses 0.1 everywhere
        self._before: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._stats: list[tuple[torch.Tensor, torch.Tensor]] = []

    def start(self) -> None:
        self._before = [(m.running_mean.clone(), m.running_var.clone()) for m in self.layers]

    def batch_seen(self) -> None:
        self._stats = [
            (
                (m.running_mean - (1 - m.momentum) * mean) / m.momentum,
                (m.running_var - (1 - m.momentum) * var) / m.momentum,
            )
            for m, (mean, var) in zip(self.layers, self._before)
        ]

    @torch.no_grad()
    def replay(self, times: int) -> None:
        # New tensors, not in-place updates: the pass being differentiated saved the old ones.
        for m, (mean, var) in zip(self.layers, self._stats):
            keep = (1 - m.momentum) ** times
            m.running_mean = m.running_mean * keep + mean * (1 - keep)
            m.running_var = m.running_var * keep + var * (1 - keep)
            m.num_batches_tracked = m.num_batches_tracked + times


@contextmanager
def buffers_kept(*modules: nn.Module) -> Iterator[None]:
    """Restore every buffer of `modules` on exit (a preview must not move running statistics)."""
    saved = [(b, b.clone()) for module in modules for b in module.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)


class WithHead(nn.Module):
    """A classifier's trunk with another linear head: the `online_mix` and `ema_mix` networks."""

    def __init__(self, trunk: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.trunk, self.head = trunk, head

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(features.pooled(self.trunk, images))


def normal_init_(module: nn.Module, generator: torch.Generator) -> None:
    """N(0, 0.01) weights and zero biases for every conv and linear layer (module on the CPU)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, INIT_STD, generator=generator)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class LearnedMix(Method):
    """Base of AutoMix and AdAutoMix: heads, EMA teacher, Mix Block plumbing, counters, networks."""

    kind = Kind.LEARNED
    cost_target = 1.10  # of the sum of the passes below: the Mix Block, mixing and EMA cost <= 10 %
    networks = ("online", "online_mix", "ema", "ema_mix")
    primary_network = "ema|ema_mix"

    def __init__(self, params: Any, ctx) -> None:
        super().__init__(params, ctx)
        self._step = 0  # completed optimizer steps; checkpointed through get_extra_state

    @classmethod
    def check_compatible(cls, *, backbone: str, dataset: str, image_size: int, params: Any = None) -> None:
        features.check(backbone, image_size)

    def build_block(self, channels: int) -> nn.Module:
        """The method's Mix Block for a stage-3 map with `channels` channels (on the CPU)."""
        raise NotImplementedError

    def setup(self, model: nn.Module) -> None:
        fc = features.classifier(model)
        head_mix = nn.Linear(fc.in_features, fc.out_features)
        normal_init_(head_mix, self.ctx.generator)
        family = features.family_of(self.ctx.backbone)
        block = self.build_block(features.Stage3.of(model, family).channels)
        normal_init_(block, self.ctx.generator)
        self.head_mix = head_mix.to(self.ctx.device)
        self.block = block.to(self.ctx.device)
        self.teacher = copy.deepcopy(model).requires_grad_(False)
        self.teacher_head_mix = copy.deepcopy(self.head_mix).requires_grad_(False)
        self.teacher_stage3 = features.Stage3.of(self.teacher, family)
        self.batchable = not batch_norms(model)

    # --- optimizer, EMA, checkpoint ------------------------------------------------------------

    def param_groups(self) -> list[dict[str, Any]]:
        block: dict[str, Any] = {"params": list(self.block.parameters())}
        if self.p.mix_block_lr is not None:
            block["lr"] = self.p.mix_block_lr
        if self.p.mix_block_min_lr is not None:
            block["min_lr"] = self.p.mix_block_min_lr
        return [{"params": list(self.head_mix.parameters())}, block]

    def ema_momentum(self) -> float:
        p = self.p
        return ema_momentum(self._step, self.ctx.total_steps, p.ema_start, p.ema_end, p.ema_hold)

    def after_step(self, model: nn.Module) -> None:
        online = [*model.parameters(), *self.head_mix.parameters()]
        teacher = [*self.teacher.parameters(), *self.teacher_head_mix.parameters()]
        ema_update(teacher, online, self.ema_momentum())
        self._step += 1

    def get_extra_state(self) -> dict[str, Any]:
        return {"step": self._step}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self._step = int(state["step"])

    def eval_models(self, model: nn.Module) -> dict[str, nn.Module]:
        return {
            "online": model,
            "online_mix": WithHead(model, self.head_mix),
            "ema": self.teacher,
            "ema_mix": WithHead(self.teacher, self.teacher_head_mix),
        }

    # --- pieces of a step ----------------------------------------------------------------------

    def partners(self, batch: int, device: torch.device, strict: bool) -> torch.Tensor:
        """A partner permutation (`strict`: no fixed point even after 10 tries, with no-repeat on)."""
        if self._fixed_partners is not None:  # bench visualize: the same pairs for every method
            return self._fixed_partners.to(device)
        if self.p.mix_shuffle_no_repeat:
            return sampling.permutation_no_repeat(batch, self.ctx.generator, device, strict=strict)
        return sampling.permutation(batch, self.ctx.generator, device)

    @torch.no_grad()
    def teacher_clean(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The teacher's stage-3 map (float32) and mix-head logits on the clean batch."""
        with self.teacher_stage3.capture() as maps:
            logits = self.teacher_head_mix(features.pooled(self.teacher, images))
        z = maps[0].float()
        (height, width), (h, w) = images.shape[-2:], z.shape[-2:]
        if height % h or width % w:
            raise BenchError(
                f"the stage-3 map ({h}x{w}) does not tile the {height}x{width} images; "
                "use an image size that is a multiple of the backbone's stage-3 stride"
            )
        return z, logits

    def teacher_mix_logits(self, mixed: torch.Tensor) -> torch.Tensor:
        """The teacher's mix-head logits on generated mixes; gradients reach only the mixes."""
        return self.teacher_head_mix(features.pooled(self.teacher, mixed))

    # --- what a step cannot avoid (timed by bench perf) -----------------------------------------

    def classifier_passes(
        self, model: nn.Module, images: torch.Tensor, mixed: torch.Tensor
    ) -> dict[str, tuple]:
        """The classifier's forward + backward passes of a step: (inputs, head) by name."""
        return {
            "classifier fwd+bwd, clean": (images, features.classifier(model)),
            "classifier fwd+bwd, generated mix": (mixed, self.head_mix),
        }

    def unavoidable_passes(
        self,
        model: nn.Module,
        images: torch.Tensor,
        labels: torch.Tensor,
        autocast: Callable[[], contextlib.AbstractContextManager],
    ) -> dict[str, Callable[[], None]]:
        """The teacher's forward for the stage-3 map; the classifier's forward + backward on each
        batch of `classifier_passes`; the teacher's forward + backward to the generator's mix
        (input gradient only). The mixes are a real generated mix, drawn without side effects."""
        targets = self.targets(labels)
        mixed = self.preview(model, images, labels).images.detach()

        def teacher_clean() -> None:
            with autocast():
                self.teacher_clean(images)

        def classifier(x: torch.Tensor, head: nn.Module) -> Callable[[], None]:
            def run() -> None:
                model.zero_grad(set_to_none=True)
                with autocast():
                    loss = soft_cross_entropy(head(features.pooled(model, x)), targets)
                loss.backward()

            return run

        def teacher_to_generator() -> None:
            x = mixed.clone().requires_grad_(True)
            with autocast():
                loss = soft_cross_entropy(self.teacher_mix_logits(x), targets)
            loss.backward()

        passes = {"teacher forward (stage-3 map)": teacher_clean}
        for label, (x, head) in self.classifier_passes(model, images, mixed).items():
            passes[label] = classifier(x, head)
        passes["teacher fwd+bwd to the generator"] = teacher_to_generator
        return passes

    def online_pooled(self, model: nn.Module, batches: list[torch.Tensor]) -> list[torch.Tensor]:
        """Pooled features of the online network for each batch, in the released code's order."""
        if self.batchable:
            return list(features.pooled(model, torch.cat(batches)).split([len(b) for b in batches]))
        return [features.pooled(model, b) for b in batches]
