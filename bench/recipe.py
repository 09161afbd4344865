"""The training recipe shared by every cell of a suite (before per-cell overrides).

Every field has a unit and a meaning; dataset-dependent fields (image size, augmentation) are
`None` in a suite and filled from the dataset's defaults when the suite is expanded.

A job's id hashes its recipe (`Recipe.spec`). Keys added after jobs had been run carry `LATER`:
the id leaves them out while they hold their default, so every job that does not use them keeps
the id it had, and a job that does gets a new one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from bench import schema

LATER = {"id_omits_default": True}  # field metadata: see the module docstring
RANDAUGMENT_LEVELS = 10  # OpenMixup's total_level in the CIFAR-100 RandAugment configs


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True)
class Optimizer:
    name: Literal["sgd", "adamw"] = "sgd"
    lr: float = 0.1  # peak learning rate, reached after warm-up
    momentum: float = 0.9  # SGD only
    nesterov: bool = False  # SGD only
    weight_decay: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)  # AdamW only
    eps: float = 1e-8  # AdamW only
    decay_norm_and_bias: bool = True  # False: no weight decay on norm weights and biases (ViT recipes)
    # No weight decay either on parameters whose name contains one of these (OpenMixup's
    # paramwise_options, e.g. Swin's relative_position_bias_table); each must name a parameter.
    no_decay_names: tuple[str, ...] = field(default=(), metadata=LATER)

    def __post_init__(self) -> None:
        _check(self.lr > 0, f"lr must be > 0, got {self.lr}")
        _check(all(self.no_decay_names), "no_decay_names must not contain an empty name")
        _check(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        _check(0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}")


@dataclass(frozen=True)
class Schedule:
    name: Literal["cosine", "constant"] = "cosine"
    warmup_epochs: float = 0.0  # linear warm-up from warmup_start_factor * lr to lr
    warmup_start_factor: float = 1e-5
    min_lr: float = 0.0  # cosine ends here (OpenMixup's min_lr); AutoMix/AdAutoMix CIFAR use 0.05
    by: Literal["epoch", "iteration"] = (
        "epoch"  # OpenMixup CNN recipes step per epoch, ViT recipes per iteration
    )

    def __post_init__(self) -> None:
        _check(self.warmup_epochs >= 0, f"warmup_epochs must be >= 0, got {self.warmup_epochs}")
        _check(self.min_lr >= 0, f"min_lr must be >= 0, got {self.min_lr}")


@dataclass(frozen=True)
class RandAugmentSettings:
    """RandAugment after the augmentation's random step (bench/data/randaugment.py): `ops` ops per
    image from `policy`, at level N(magnitude, magnitude_std) of 10. The OpenMixup CIFAR-100 ViT
    configs' 'rand-m7-mstd0.5' is the default."""

    ops: int = 2
    magnitude: float = 7.0
    magnitude_std: float = 0.5
    policy: Literal["fixmatch_openmixup"] = "fixmatch_openmixup"

    def __post_init__(self) -> None:
        _check(self.ops >= 1, f"ops must be >= 1, got {self.ops}")
        _check(
            0 <= self.magnitude <= RANDAUGMENT_LEVELS,
            f"magnitude must be in [0, {RANDAUGMENT_LEVELS}], got {self.magnitude}",
        )
        _check(self.magnitude_std >= 0, f"magnitude_std must be >= 0, got {self.magnitude_std}")

    def describe(self) -> str:
        return f"randaug {self.ops}-m{self.magnitude:g}-std{self.magnitude_std:g}"


@dataclass(frozen=True)
class Recipe:
    epochs: int = 200
    batch_size: int = 100
    optimizer: Optimizer = field(default_factory=Optimizer)
    schedule: Schedule = field(default_factory=Schedule)
    image_size: int | None = None  # None: the dataset's default
    augmentation: str | None = None  # None: the dataset's default train augmentation
    label_smoothing: float = 0.0
    grad_clip: float | None = None  # max global gradient norm; None: no clipping
    stem: Literal["auto", "cifar", "imagenet"] = "auto"  # auto: CIFAR stem for images <= 64 px
    pretrained: bool = False  # start from ImageNet weights (fine-grained recipes); needs local weights
    drop_path: float = 0.0
    train_fraction: float = 1.0  # fraction of the training split used (reduced-scale runs)
    test_fraction: float = 1.0  # fraction of the test split evaluated (reduced-scale runs)
    eval_every: int = 1  # evaluate every k epochs (and always at the last)
    # RandomResizedCrop's area range for the rrc augmentations; None: the augmentation's own
    crop_scale: tuple[float, float] | None = field(default=None, metadata=LATER)
    randaugment: RandAugmentSettings | None = field(default=None, metadata=LATER)
    # auto: the machine's `[run] precision` (bf16 autocast on CUDA, fp32 on CPU); fp16: float16
    # autocast with dynamic loss scaling, what OpenMixup's `use_fp16 = True` configs ran (mmcv's
    # Fp16OptimizerHook, loss_scale='dynamic'); fp32 and bf16 force those on every machine.
    precision: Literal["auto", "fp32", "bf16", "fp16"] = field(default="auto", metadata=LATER)

    def __post_init__(self) -> None:
        _check(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}")
        _check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        _check(
            0 <= self.label_smoothing < 1, f"label_smoothing must be in [0, 1), got {self.label_smoothing}"
        )
        _check(0 < self.train_fraction <= 1, f"train_fraction must be in (0, 1], got {self.train_fraction}")
        _check(0 < self.test_fraction <= 1, f"test_fraction must be in (0, 1], got {self.test_fraction}")
        _check(self.eval_every >= 1, f"eval_every must be >= 1, got {self.eval_every}")
        _check(
            self.image_size is None or self.image_size >= 8, f"image_size must be >= 8, got {self.image_size}"
        )
        _check(self.grad_clip is None or self.grad_clip > 0, f"grad_clip must be > 0, got {self.grad_clip}")
        _check(
            self.schedule.min_lr <= self.optimizer.lr,
            f"schedule.min_lr ({self.schedule.min_lr:g}) must not exceed optimizer.lr ({self.optimizer.lr:g}): "
            "the schedule would raise the learning rate instead of decaying it",
        )
        _check(
            self.crop_scale is None or 0 < self.crop_scale[0] <= self.crop_scale[1] <= 1,
            f"crop_scale must be (lo, hi) with 0 < lo <= hi <= 1, got {self.crop_scale}",
        )

    def spec(self) -> dict[str, Any]:
        """The recipe as plain data for the job id: `LATER` keys left out at their default."""
        return _spec(self)

    def describe_augmentation(self) -> str:
        """The training augmentation in a few words, e.g. 'rrc_flip 0.8-1 + randaug 2-m7-std0.5'."""
        text = self.augmentation or "dataset default"
        if self.crop_scale is not None:
            text += f" {self.crop_scale[0]:g}-{self.crop_scale[1]:g}"
        if self.randaugment is not None:
            text += " + " + self.randaugment.describe()
        return text

    @property
    def full_data(self) -> bool:
        """Every training and test image is used (no reduced-scale fraction)."""
        return self.train_fraction >= 1 and self.test_fraction >= 1


def _default(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def _spec(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: _spec(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if not (f.metadata.get("id_omits_default") and getattr(obj, f.name) == _default(f))
        }
    return schema.to_plain(obj)
