"""Calibration: expected calibration error and the reliability diagram (Guo et al. 2017, arXiv 1706.04599).

The top-label confidence c = max softmax falls into one of M equal-width bins, right-closed:
bin m holds c ∈ ((m−1)/M, m/M]. ECE = Σₘ (|Bₘ|/n)·|acc(Bₘ) − conf(Bₘ)|, in percent; M = 15 is the
common default (torchmetrics' MulticlassCalibrationError, RobustBench-era papers).

The AdAutoMix/OpenMixup `ece_score` is not this: it uses 10 bins and sorts the per-bin accuracies
and the per-bin confidences independently before pairing them, which can hide any amount of
under-confidence (a strongly under-confident model scores 0). Its numbers are not comparable.

ECE alone hides the direction, and mixup-trained models are often under-confident, so the
over- and under-confident parts (which sum to the ECE) are kept too, with the per-bin table from
which any other binning's summary can be recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from bench.report import figures

if TYPE_CHECKING:
    from bench.evaluate.config import EceSettings
    from bench.evaluate.context import EvaluationContext


@dataclass(frozen=True)
class Bin:
    lower: float
    upper: float
    count: int
    accuracy: float | None  # percent; None for an empty bin
    confidence: float | None  # mean top-label confidence, percent


@dataclass(frozen=True)
class Calibration:
    ece: float  # percent
    overconfidence: float  # Σ weight · max(conf − acc, 0), percent
    underconfidence: float  # Σ weight · max(acc − conf, 0), percent
    n: int
    bins: list[Bin]

    def to_record(self) -> dict:
        return {
            "ece": self.ece,
            "overconfidence": self.overconfidence,
            "underconfidence": self.underconfidence,
            "n": self.n,
            "n_bins": len(self.bins),
            "binning": "equal-width on [0, 1], right-closed ((m-1)/M, m/M], weighted by bin size",
            "bins": [b.__dict__ for b in self.bins],
        }


def calibration(confidences: torch.Tensor, correct: torch.Tensor, n_bins: int = 15) -> Calibration:
    """ECE and the reliability table from top-label confidences in [0, 1] and 0/1 correctness."""
    conf = confidences.double().flatten().cpu()
    hit = correct.double().flatten().cpu()
    if conf.numel() == 0:
        raise ValueError("no predictions to calibrate")
    edges = torch.arange(n_bins + 1, dtype=torch.float64) / n_bins  # exactly m/M, as Python computes it
    index = torch.bucketize(conf, edges[1:-1], right=False)  # (edge[i], edge[i+1]] -> i; 0 lands in bin 0
    count = torch.bincount(index, minlength=n_bins)
    conf_sum = torch.bincount(index, weights=conf, minlength=n_bins)
    hit_sum = torch.bincount(index, weights=hit, minlength=n_bins)
    n = conf.numel()
    bins, over, under = [], 0.0, 0.0
    for m in range(n_bins):
        c = int(count[m])
        acc = float(hit_sum[m]) / c if c else None
        mean_conf = float(conf_sum[m]) / c if c else None
        if c:
            gap = (mean_conf - acc) * c / n
            over, under = over + max(gap, 0.0), under + max(-gap, 0.0)
        bins.append(
            Bin(
                lower=float(edges[m]),
                upper=float(edges[m + 1]),
                count=c,
                accuracy=None if acc is None else 100 * acc,
                confidence=None if mean_conf is None else 100 * mean_conf,
            )
        )
    return Calibration(100 * (over + under), 100 * over, 100 * under, n, bins)


def adautomix_sorted_ece(confidences: torch.Tensor, correct: torch.Tensor, n_bins: int = 10) -> float:
    """The AdAutoMix code's `ece_score` (openmixup/datasets/classification.py), for reference
    only, in percent: per-bin accuracy and mean confidence over the same right-closed bins, then
    the two arrays each sorted on their own (empty bins count as 0) and paired with the unsorted
    bin counts. It is not a calibration error: a model under-confident in every bin can score 0."""
    conf = confidences.double().flatten().cpu()
    hit = correct.double().flatten().cpu()
    edges = torch.arange(n_bins + 1, dtype=torch.float64) / n_bins
    index = torch.bucketize(conf, edges[1:-1], right=False)
    count = torch.bincount(index, minlength=n_bins).double()
    filled = count.clamp(min=1)
    accuracy = torch.bincount(index, weights=hit, minlength=n_bins) / filled
    confidence = torch.bincount(index, weights=conf, minlength=n_bins) / filled
    gaps = (accuracy.sort().values - confidence.sort().values).abs()
    return float(100 * (count * gaps).sum() / count.sum())


def reliability_diagram(panels: dict[str, Calibration], path: Path, title: str) -> None:
    """One panel per network: accuracy per confidence bin against the diagonal, bin counts below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        2,
        len(panels),
        figsize=(3.6 * len(panels), 4.6),
        gridspec_kw={"height_ratios": [3, 1]},
        squeeze=False,
        sharex=True,
    )
    for column, (network, cal) in enumerate(panels.items()):
        top, bottom = axes[0][column], axes[1][column]
        width = cal.bins[0].upper - cal.bins[0].lower
        centres = [(b.lower + b.upper) / 2 for b in cal.bins]
        filled = [(x, b) for x, b in zip(centres, cal.bins) if b.count]
        top.plot([0, 1], [0, 1], ls="--", color="0.5", lw=1, label="perfect calibration")
        top.bar(
            [x for x, _ in filled],
            [b.accuracy / 100 for _, b in filled],
            width=width,
            color="#4c72b0",
            edgecolor="white",
            label="accuracy",
        )
        top.bar(
            [x for x, _ in filled],
            [(b.confidence - b.accuracy) / 100 for _, b in filled],
            bottom=[b.accuracy / 100 for _, b in filled],
            width=width,
            fill=False,
            hatch="///",
            edgecolor="#c44e52",
            linewidth=0.8,
            label="gap to mean confidence",
        )
        top.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy" if column == 0 else None)
        top.set_title(
            f"{network}: ECE {cal.ece:.2f}% (over {cal.overconfidence:.2f}, under {cal.underconfidence:.2f})",
            fontsize=8.5,
        )
        top.set_aspect("equal", adjustable="box")
        if column == 0:
            top.legend(loc="upper left", fontsize=7, frameon=False)
        bottom.bar(centres, [b.count / cal.n for b in cal.bins], width=width, color="0.45", edgecolor="white")
        bottom.set(xlim=(0, 1), xlabel="confidence (max softmax)", ylabel="share" if column == 0 else None)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    figures.save(fig, path, dpi=130)
    plt.close(fig)


DIAGRAM = "reliability.png"  # in the run folder


def evaluate(context: EvaluationContext, settings: EceSettings) -> dict[str, dict[str, Any]]:
    """The ece evaluator (bench/evaluate/config.py): ECE of every network, and one reliability
    diagram per run with a panel per network."""
    panels = {
        name: calibration(conf, hit, settings.ece_bins)
        for name, (conf, hit) in context.predictions(settings.batch_size).items()
    }
    job = context.run.job
    title = f"{job.label}: test split, {settings.ece_bins} bins"
    reliability_diagram(panels, context.run_dir / DIAGRAM, title)
    sorted_ece = {
        name: adautomix_sorted_ece(conf, hit, settings.ece_bins)
        for name, (conf, hit) in context.predictions(settings.batch_size).items()
    }
    return {
        name: {**cal.to_record(), "ece_adautomix_sorted": sorted_ece[name], "diagram": DIAGRAM}
        for name, cal in panels.items()
    }
