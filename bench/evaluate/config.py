"""The evaluators as one table, and what a suite's `robustness:` section or `bench robustness`'s
flags ask of them (no torch import here, so a suite validates instantly).

Each evaluator is one row of `EVALUATORS`: its name (the key in a run's `robustness.json` and the
`--<name>` flag), its settings dataclass, the function that computes it ("module:attr", imported
only when it runs) and its headline columns (what the report shows, which way is better, and the
published metric that names the same quantity). Adding an evaluator is a settings dataclass and
a row here, its fields in `RobustnessConfig`, and its function in its own module; the command's
flags, the stored settings, the skip-if-stored logic, the executors and the report follow.

Attack budgets are given in 1/255 units of [0, 1] pixel space (`eps_255: 8` is ε = 8/255), the
convention of the mixup papers and RobustBench.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

# --- each evaluator's settings ---------------------------------------------------------------------
# Field names are the keys of the `robustness:` section (shared keys mean the same thing everywhere).


def _positive(owner: object, *names: str) -> None:
    for name in names:
        if getattr(owner, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(owner, name)}")


def _check_eps(eps_255: float) -> None:
    if not 0 < eps_255 <= 255:
        raise ValueError(f"eps_255 must be in (0, 255], got {eps_255}")


@dataclass(frozen=True)
class CleanSettings:
    batch_size: int = 256

    def __post_init__(self) -> None:
        _positive(self, "batch_size")


@dataclass(frozen=True)
class EceSettings:
    ece_bins: int = 15
    batch_size: int = 256

    def __post_init__(self) -> None:
        _positive(self, "ece_bins", "batch_size")


@dataclass(frozen=True)
class FgsmSettings:
    eps_255: float = 8.0
    batch_size: int = 256

    def __post_init__(self) -> None:
        _check_eps(self.eps_255)
        _positive(self, "batch_size")


@dataclass(frozen=True)
class PgdSettings:
    eps_255: float = 8.0
    pgd_steps: int = 10
    pgd_step_size_255: float = 2.0
    pgd_random_start: bool = True
    pgd_restarts: int = 1  # a point is robust only if it survives every restart
    attack_images: int = 0  # the first N test images; 0: all
    seed: int = 0
    batch_size: int = 256  # the random starts are drawn batch by batch

    def __post_init__(self) -> None:
        _check_eps(self.eps_255)
        _positive(self, "pgd_steps", "pgd_restarts", "batch_size")
        if self.pgd_step_size_255 <= 0:
            raise ValueError(f"pgd_step_size_255 must be > 0, got {self.pgd_step_size_255}")
        if self.attack_images < 0:
            raise ValueError(f"attack_images must be >= 0, got {self.attack_images}")


@dataclass(frozen=True)
class AutoAttackSettings:
    eps_255: float = 8.0
    autoattack_version: Literal["standard", "plus", "rand"] = "standard"
    attack_images: int = 0
    seed: int = 0
    batch_size: int = 256

    def __post_init__(self) -> None:
        _check_eps(self.eps_255)
        _positive(self, "batch_size")
        if self.attack_images < 0:
            raise ValueError(f"attack_images must be >= 0, got {self.attack_images}")


@dataclass(frozen=True)
class CorruptionSettings:
    # release: the published -C set (error if missing); generated: imagecorruptions at ImageNet-C
    # parameters; auto: the release where one exists for the dataset, else generated.
    corruption_source: Literal["auto", "release", "generated"] = "auto"
    seed: int = 0  # of the generated corruptions
    batch_size: int = 256

    def __post_init__(self) -> None:
        _positive(self, "batch_size")


OCCLUSION_RATIOS = tuple(i / 10 for i in range(11))


@dataclass(frozen=True)
class OcclusionSettings:
    """AdAutoMix's occlusion test (tools/analysis_tools/occlusion_robustness.py): the image is cut
    into a grid of `occlusion_patch`-pixel squares and round(grid · ratio) of them, drawn per batch
    and shared by the batch, are set to the dataset's mean colour."""

    occlusion_patch: int = 16  # the script's --drop_size
    occlusion_ratios: tuple[float, ...] = OCCLUSION_RATIOS
    seed: int = 0
    batch_size: int = 256  # positions are drawn once per batch, as the script does

    def __post_init__(self) -> None:
        _positive(self, "occlusion_patch", "batch_size")
        if not self.occlusion_ratios or any(not 0 <= r <= 1 for r in self.occlusion_ratios):
            raise ValueError(f"occlusion_ratios must be in [0, 1], got {list(self.occlusion_ratios)}")
        if len(set(self.occlusion_ratios)) != len(self.occlusion_ratios):
            raise ValueError(f"occlusion_ratios repeat a value: {list(self.occlusion_ratios)}")


# --- the table ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeadlineColumn:
    """A headline number of an evaluator: `field` of its per-network record, shown as `title`."""

    key: str  # unique across the table; the report's CSV names its columns after it
    title: str
    field: str
    higher_is_better: bool
    published_metric: str | None = None  # the published table's metric for the same quantity
    paper: bool = False  # a column of AdAutoMix's robustness table: shown with pub. and Δ


@dataclass(frozen=True)
class Evaluator:
    name: str
    settings: type
    function: str  # "module:attr", called as f(context, settings) -> {network: record}
    columns: tuple[HeadlineColumn, ...]
    help: str
    # Differences from the published convention that make a published value never comparable.
    convention: str = ""
    # Stored with the settings: bump it when the same settings start giving other numbers, so
    # stored results are recomputed instead of reused.
    version: int = 1

    def load(self) -> Any:
        import importlib

        module, attr = self.function.split(":")
        return getattr(importlib.import_module(module), attr)


FGSM_CONVENTION = (
    "FGSM convention differs: the AdAutoMix code adds the step to the normalised tensor and clamps "
    "it to [0, 1] there (a weaker, distorted attack); ours steps ε in [0, 1] pixel space"
)
ECE_CONVENTION = (
    "ECE convention differs: the AdAutoMix code sorts the per-bin accuracies and confidences "
    "separately before pairing them; ours is the standard binned ECE"
)

EVALUATORS: dict[str, Evaluator] = {
    e.name: e
    for e in (
        Evaluator(
            "clean",
            CleanSettings,
            "bench.evaluate.clean:evaluate",
            (HeadlineColumn("clean", "Clean Acc ↑", "top1", True, "top1", paper=True),),
            "top-1 on the test split (always evaluated)",
        ),
        Evaluator(
            "corruption",
            CorruptionSettings,
            "bench.evaluate.corruption:evaluate_run",
            (
                HeadlineColumn(
                    "corruption", "Corruption Acc ↑", "cacc19", True, "top1_corruption", paper=True
                ),
                HeadlineColumn("cacc15", "Corr. Acc 15 ↑", "cacc15", True),
            ),
            "top-1 on the corrupted test set, every corruption and severity",
            version=2,  # = bench.data.corruptions_generated.GENERATION_SCHEME (tested)
        ),
        Evaluator(
            "fgsm",
            FgsmSettings,
            "bench.evaluate.adversarial:evaluate_fgsm",
            (HeadlineColumn("fgsm", "FGSM Error ↓", "error", False, "fgsm_error", paper=True),),
            "FGSM error at ε (default 8/255)",
            FGSM_CONVENTION,
        ),
        Evaluator(
            "pgd",
            PgdSettings,
            "bench.evaluate.adversarial:evaluate_pgd",
            (HeadlineColumn("pgd", "PGD Error ↓", "error", False),),
            "PGD error",
        ),
        Evaluator(
            "autoattack",
            AutoAttackSettings,
            "bench.evaluate.adversarial:evaluate_autoattack",
            (HeadlineColumn("autoattack", "AutoAttack Error ↓", "error", False),),
            "AutoAttack error (reference implementation, pyautoattack)",
        ),
        Evaluator(
            "ece",
            EceSettings,
            "bench.evaluate.calibration:evaluate",
            (HeadlineColumn("ece", "ECE ↓", "ece", False),),
            "expected calibration error and a reliability diagram per run",
            ECE_CONVENTION,
        ),
        Evaluator(
            "occlusion",
            OcclusionSettings,
            "bench.evaluate.occlusion:evaluate",
            (HeadlineColumn("occlusion", "Occlusion AUC ↑", "auc", True),),
            "top-1 as growing shares of square patches are occluded (AdAutoMix's occlusion test), "
            "its curve and the area under it",
        ),
    )
}
ALWAYS = ("clean",)  # evaluated whatever is asked: every report row needs it
OPTIONAL = tuple(name for name in EVALUATORS if name not in ALWAYS)


def column(key: str) -> tuple[Evaluator, HeadlineColumn]:
    """The evaluator and column of a column key."""
    for evaluator in EVALUATORS.values():
        for col in evaluator.columns:
            if col.key == key:
                return evaluator, col
    raise KeyError(key)


# --- what a suite or the command asks for -------------------------------------------------------------


def _option(default: Any, flag: str, help: str, **extra: Any) -> Any:
    """A field with its command-line flag and help (the command builds its options from them)."""
    return field(default=default, metadata={"flag": flag, "help": help, **extra})


@dataclass(frozen=True)
class RobustnessConfig:
    """Which evaluators run (`clean` always does) and every evaluator's settings, by the keys the
    settings dataclasses above name. `settings(name)` gives one evaluator's settings."""

    fgsm: bool = False
    corruption: bool = False
    pgd: bool = False
    autoattack: bool = False
    ece: bool = False
    occlusion: bool = False
    eps_255: float = _option(
        8.0, "--eps", "attack budget in 1/255 of [0, 1] pixel space (default 8)", metavar="EPS_255"
    )
    pgd_steps: int = _option(10, "--pgd-steps", "PGD steps (default 10)")
    pgd_step_size_255: float = _option(2.0, "--pgd-step-size", "PGD step size in 1/255 (default 2)")
    pgd_random_start: bool = _option(
        True, "--no-pgd-random-start", "start PGD at the clean image", negate=True
    )
    pgd_restarts: int = _option(1, "--pgd-restarts", "PGD restarts (default 1)")
    autoattack_version: Literal["standard", "plus", "rand"] = _option(
        "standard", "--autoattack-version", "AutoAttack version (default standard)"
    )
    attack_images: int = _option(
        0, "--attack-images", "PGD and AutoAttack on the first N test images (default all)"
    )
    seed: int = _option(
        0, "--seed", "seed of PGD starts, AutoAttack, generated corruptions and occluded patches (default 0)"
    )
    corruption_source: Literal["auto", "release", "generated"] = _option(
        "auto",
        "--corruption-source",
        "auto (default): the released -C set where one exists, else generated with imagecorruptions",
    )
    occlusion_patch: int = _option(16, "--occlusion-patch", "occluded square's side in pixels (default 16)")
    occlusion_ratios: tuple[float, ...] = _option(
        OCCLUSION_RATIOS,
        "--occlusion-ratios",
        "occluded shares of the image, comma-separated (default 0,0.1,...,1)",
        metavar="R[,R...]",
    )
    batch_size: int = _option(256, "--batch-size", "evaluation batch size (default 256)")
    ece_bins: int = _option(15, "--ece-bins", "ECE bins (default 15)")
    mce_baseline: str | None = _option(
        None,
        "--mce-baseline",
        "mCE baseline: a method label of the same suite, or a run folder",
        metavar="LABEL|RUN_DIR",
    )

    def __post_init__(self) -> None:
        for name in EVALUATORS:
            self.settings(name)  # each evaluator's settings check their own values

    def settings(self, name: str) -> Any:
        cls = EVALUATORS[name].settings
        return cls(**{f.name: getattr(self, f.name) for f in dataclasses.fields(cls)})

    @property
    def evaluators(self) -> list[str]:
        """The optional evaluators asked for, in the table's order."""
        return [name for name in OPTIONAL if getattr(self, name)]
