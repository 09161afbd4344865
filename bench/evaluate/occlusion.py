"""The occlusion evaluator (bench/evaluate/config.py): top-1 as a growing share of the image is
hidden, as the official AdAutoMix code measures it (JinXins/Adversarial-AutoMixup,
tools/analysis_tools/occlusion_robustness.py with `occlusion_forward_collect` in
openmixup/utils/collect.py).

What the script does, and what is kept:
- the image is cut into a grid of `drop_size`-pixel squares (default 16: 14 × 14 = 196 patches at
  224 px), indexed row by row (its `rearrange('b c (h p1) (w p2) -> b (h w) (p1 p2 c)')`);
- at occlusion ratio r, round(r · patches) of them (Python's round) are drawn without replacement,
  once per batch, and the same squares are hidden in every image of the batch;
- a hidden square is set to 0 in the *normalised* input, which is the dataset's mean colour in
  pixels; here the networks take [0, 1] pixels and normalise inside, so the squares are set to the
  mean colour before normalisation (the same input);
- top-1 is reported per ratio.

What differs: the script hard-codes 224 px (its grid is 224 // drop_size; any other size fails
or mis-indexes), where here the grid follows the test images (its side must be a multiple of the
patch); it draws positions from NumPy's unseeded global generator, where here each ratio has its
own generator seeded from (seed, ratio), so a result is reproducible and independent of the
order and set of ratios; and the script takes one ratio per call, where here a list of ratios
gives the whole curve and its area (the mean top-1 over the occluded share, by the trapezoid
rule, between the smallest and the largest share measured).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from bench.errors import BenchError
from bench.evaluate.config import OcclusionSettings
from bench.report import figures

if TYPE_CHECKING:
    from bench.evaluate.context import EvaluationContext

FIGURE = "occlusion.png"  # in the run folder


def grid(height: int, width: int, patch: int) -> tuple[int, int]:
    """(rows, columns) of `patch`-pixel squares tiling an image; BenchError if they do not tile it."""
    if height % patch or width % patch:
        raise BenchError(
            f"occlusion_patch {patch} does not tile the {height}x{width} px test images "
            f"(choose a divisor of {height}, e.g. {_divisors(height)})"
        )
    return height // patch, width // patch


def _divisors(n: int) -> str:
    return ", ".join(str(d) for d in range(1, n + 1) if n % d == 0 and d < n)


def hidden_count(ratio: float, patches: int) -> int:
    """How many squares ratio r hides: round(r · patches), Python's round as in the script."""
    return round(patches * ratio)


def positions(generator: np.random.Generator, patches: int, count: int) -> np.ndarray:
    """`count` distinct square indices (row-major) out of `patches`."""
    return np.sort(generator.choice(patches, size=count, replace=False))


def occlude(images: torch.Tensor, fill: torch.Tensor, patch: int, hidden: Sequence[int]) -> torch.Tensor:
    """`images` (N, 3, H, W) with the squares numbered `hidden` (row-major) set to `fill` (3,)."""
    rows, cols = grid(images.shape[2], images.shape[3], patch)
    squares = torch.zeros(rows * cols, dtype=torch.bool, device=images.device)
    squares[torch.as_tensor(list(hidden), dtype=torch.long, device=images.device)] = True
    mask = squares.view(rows, cols).repeat_interleave(patch, 0).repeat_interleave(patch, 1)
    return torch.where(mask, fill.to(images).view(1, 3, 1, 1), images)


def area(shares: Sequence[float], top1: Sequence[float]) -> float:
    """Mean top-1 over the occluded share: the trapezoid area under the curve divided by the span
    of shares measured (the single value when only one share was measured)."""
    order = np.argsort(shares, kind="stable")
    x, y = np.asarray(shares, dtype=float)[order], np.asarray(top1, dtype=float)[order]
    span = x[-1] - x[0]
    if span == 0:
        return float(y.mean())
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2) / span)


def _generator(seed: int, ratio: float) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, round(ratio * 1_000_000)]))


@torch.no_grad()
def evaluate(context: EvaluationContext, settings: OcclusionSettings) -> dict[str, dict[str, Any]]:
    """network -> the top-1 curve over the ratios, the shares actually hidden, and its area."""
    test, patch, bs = context.test, settings.occlusion_patch, settings.batch_size
    rows, cols = grid(test.images.shape[2], test.images.shape[3], patch)
    fill = torch.tensor(context.run.dataset.mean, dtype=torch.float32)
    correct = {name: [] for name in context.networks}
    hidden = [hidden_count(r, rows * cols) for r in settings.occlusion_ratios]
    with context.progress("occlusion", len(hidden) * -(-len(test) // bs)) as bar:
        for ratio, count in zip(settings.occlusion_ratios, hidden):
            generator = _generator(settings.seed, ratio)
            hits = dict.fromkeys(context.networks, 0)
            for x, y in context.batches(bs):
                occluded = occlude(x, fill, patch, positions(generator, rows * cols, count))
                for name, net in context.networks.items():
                    hits[name] += int((net(occluded).argmax(dim=1) == y).sum())
                bar.advance()
            for name in context.networks:
                correct[name].append(hits[name])
    shares = [count / (rows * cols) for count in hidden]
    out = {}
    for name, hits in correct.items():
        top1 = [100.0 * h / len(test) for h in hits]
        out[name] = {
            "auc": area(shares, top1),
            "ratios": list(settings.occlusion_ratios),
            "shares": shares,
            "hidden_patches": hidden,
            "curve_top1": top1,
            "grid": [rows, cols],
            "n": len(test),
            "fill": "the dataset's mean colour (0 after normalisation)",
            "figure": FIGURE,
        }
    job = context.run.job
    title = f"{job.label}: {rows}x{cols} squares of {patch} px"
    draw_run(out, context.run_dir / FIGURE, title)
    return out


def draw_run(records: dict[str, dict[str, Any]], path: Path, title: str) -> None:
    """One run's curves, a line per network, with each network's area in the legend."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2, 3.6), dpi=120, layout="constrained")
    ax = fig.add_subplot()
    for name, record in records.items():
        ax.plot(
            [100 * s for s in record["shares"]],
            record["curve_top1"],
            marker="o",
            ms=3,
            label=f"{name} (area {record['auc']:.2f})",
        )
    ax.set(xlabel="occluded share of the image (%)", ylabel="top-1 (%)", xlim=(0, 100), ylim=(0, 100))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False)
    ax.set_title(title, fontsize=8)
    figures.save(fig, path, dpi=fig.dpi)
