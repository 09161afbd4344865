"""What `bench robustness` evaluates and with which settings: the `robustness:` section of a
suite and the command's flags build the same frozen dataclass (no torch import here, so a suite
validates instantly).

Attack budgets are given in 1/255 units of [0, 1] pixel space (`eps_255: 8` is ε = 8/255), the
convention of the mixup papers and RobustBench.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EVALUATORS = ("fgsm", "corruption", "pgd", "autoattack", "ece")


@dataclass(frozen=True)
class RobustnessConfig:
    fgsm: bool = False
    corruption: bool = False
    pgd: bool = False
    autoattack: bool = False
    ece: bool = False
    eps_255: float = 8.0  # L-inf budget of every attack, in 1/255 of [0, 1] pixel space
    pgd_steps: int = 10
    pgd_step_size_255: float = 2.0
    pgd_random_start: bool = True
    pgd_restarts: int = 1  # a point is robust only if it survives every restart
    autoattack_version: Literal["standard", "plus", "rand"] = "standard"
    attack_images: int = 0  # PGD and AutoAttack on the first N test images; 0: all
    seed: int = 0  # PGD random starts, AutoAttack, generated corruptions
    # release: the published -C set (error if missing); generated: imagecorruptions at ImageNet-C
    # parameters; auto: the release where one exists for the dataset, else generated.
    corruption_source: Literal["auto", "release", "generated"] = "auto"
    batch_size: int = 256
    ece_bins: int = 15
    mce_baseline: str | None = None  # a method label of the same suite, or a run folder

    def __post_init__(self) -> None:
        if not 0 < self.eps_255 <= 255:
            raise ValueError(f"eps_255 must be in (0, 255], got {self.eps_255}")
        if self.pgd_steps < 1:
            raise ValueError(f"pgd_steps must be >= 1, got {self.pgd_steps}")
        if self.pgd_step_size_255 <= 0:
            raise ValueError(f"pgd_step_size_255 must be > 0, got {self.pgd_step_size_255}")
        if self.pgd_restarts < 1:
            raise ValueError(f"pgd_restarts must be >= 1, got {self.pgd_restarts}")
        if self.attack_images < 0:
            raise ValueError(f"attack_images must be >= 0, got {self.attack_images}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.ece_bins < 1:
            raise ValueError(f"ece_bins must be >= 1, got {self.ece_bins}")

    @property
    def evaluators(self) -> list[str]:
        return [name for name in EVALUATORS if getattr(self, name)]
