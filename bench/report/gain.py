"""The paper's "Gain" row: AdAutoMix minus the best other method of each column, with its interval.

The AdAutoMix tables end with a Gain row: AdAutoMix's top-1 minus the best competing method's in
the same column. We compute the same statistic from our means and, beside it, from the published
values of the same rows (so it equals the paper's Gain only when the table has the paper's rows).

With n >= 3 seeds run for both rows we give a 95% interval for the gain: a Student t-interval over
the per-seed paired differences d_s = AdAutoMix_s - best_other_s (mean(d) +- t_{0.975, n-1} sd(d) /
sqrt(n)). Why paired: a seed fixes the initialisation and the data order for every method, so the
differences cancel what the seed shares. Why t and not a bootstrap: at the usual 3 to 5 seeds a
bootstrap has at most 10 to 126 distinct resamples and under-covers badly, while the t-interval is
exact for normal differences and wide when n is small, which is the honest answer. The best other
method is chosen on the same runs, so the interval is conditional on that choice.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

from bench.report.collect import Cell, columns

TARGET = "adautomix"
CONFIDENCE = 0.95
MIN_SEEDS = 3


@dataclass(frozen=True)
class Gain:
    column: tuple[str, str, int]  # (dataset, backbone, budget epochs)
    value: float | None  # our AdAutoMix mean minus the best other mean (both as printed)
    versus: str | None  # the label of that best other method
    interval: tuple[float, float] | None  # CONFIDENCE t-interval over paired per-seed differences
    n: int  # seeds in the paired differences (0 when there is no interval)
    published: float | None  # the same statistic on the published values of the table's rows
    published_versus: str | None
    no_interval: str = ""  # why there is no interval


def paired_t_interval(differences: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Student t confidence interval for the mean of paired differences (n >= 2)."""
    n = len(differences)
    if n < 2:
        raise ValueError(f"a t-interval needs at least 2 differences, got {n}")
    mean = statistics.fmean(differences)
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * statistics.stdev(differences) / math.sqrt(n)
    return mean - half, mean + half


def target_rows(cells: list[Cell]) -> tuple[str | None, set[str]]:
    """(the AdAutoMix row's label, the labels that are not other methods).

    The row labelled `adautomix`, else the only row whose method is adautomix; variants of AdAutoMix
    (other labels of the same method) are neither the target nor a competitor.
    """
    own = {c.method for c in cells if c.method_name == TARGET}
    if TARGET in own:
        return TARGET, own
    return (next(iter(own)) if len(own) == 1 else None), own


def _best(values: dict[str, float]) -> tuple[str | None, float | None]:
    if not values:
        return None, None
    best = max(values, key=lambda m: values[m])  # ties: the first row in table order
    return best, values[best]


def gains(cells: list[Cell]) -> list[Gain] | None:
    """One Gain per column, in column order; None when the table has no AdAutoMix row."""
    target, own = target_rows(cells)
    if target is None:
        return None
    out = []
    for column in columns(cells):
        here = [c for c in cells if (c.dataset, c.backbone, c.epochs) == column]
        mine = next((c for c in here if c.method == target), None)
        others = [c for c in here if c.method not in own]
        versus, best = _best({c.method: c.mean for c in others if c.mean is not None})
        pub_versus, pub_best = _best({c.method: c.primary.value for c in others if c.primary})
        # From the printed (2-decimal) means, as the paper computes its Gain row.
        value = None
        if mine and mine.mean is not None and best is not None:
            value = round(round(mine.mean, 2) - round(best, 2), 2) + 0.0  # + 0.0: never print -0.00
        published = None
        if mine and mine.primary and pub_best is not None:
            published = round(mine.primary.value - pub_best, 2) + 0.0
        interval, n, why = None, 0, ""
        if value is not None:
            rival = next(c for c in others if c.method == versus)
            if sorted(mine.seeds) != sorted(rival.seeds):
                why = "the two rows have different seeds"
            elif len(mine.seeds) < MIN_SEEDS:
                why = f"fewer than {MIN_SEEDS} seeds"
            else:
                theirs = dict(zip(rival.seeds, rival.values))
                differences = [v - theirs[s] for s, v in zip(mine.seeds, mine.values)]
                interval, n = paired_t_interval(differences), len(differences)
        out.append(Gain(column, value, versus, interval, n, published, pub_versus, why))
    return out
