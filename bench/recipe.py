"""The training recipe shared by every cell of a suite (before per-cell overrides).

Every field has a unit and a meaning; dataset-dependent fields (image size, augmentation) are
`None` in a suite and filled from the dataset's defaults when the suite is expanded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


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

    def __post_init__(self) -> None:
        _check(self.lr > 0, f"lr must be > 0, got {self.lr}")
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

    @property
    def full_data(self) -> bool:
        """Every training and test image is used (no reduced-scale fraction)."""
        return self.train_fraction >= 1 and self.test_fraction >= 1
