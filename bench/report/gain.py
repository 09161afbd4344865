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

A Gain is computed over complete rows only: every row of the column (AdAutoMix and every
competitor) has a valid value for every seed the suite asks for, the same seeds and the same
reducer. Otherwise it is refused with the reason: with a competitor's runs failed, "AdAutoMix minus
the best other" would be AdAutoMix minus the next best, and rows reduced differently (the median of
the last 10 epochs against OpenMixup's larger-of-two-medians) do not subtract. The bold and
underlined ranks of the leaderboard follow the same rule (`refusal`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

from bench.report.collect import Cell, column_of, columns
from bench.report.names import display_name
from bench.report.precision import decimals_of

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
    refused: str = ""  # why there is no Gain of ours (incomplete rows, other seeds or reducers)


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


def refusal(cells: list[Cell]) -> str:
    """Why the rows of one column may not be ranked or subtracted ('' when they may): a row is
    incomplete (a seed failed, is invalid or has not run), rows have other seeds, or other reducers."""
    incomplete = [f"{display_name(c)} {c.incomplete}" if c.incomplete else "" for c in cells]
    incomplete = [text for text in incomplete if text]
    if incomplete:
        return "incomplete rows: " + "; ".join(incomplete)
    seeds = {tuple(sorted(c.seeds)) for c in cells}
    if len(seeds) > 1:
        return "rows have other seeds: " + "; ".join(
            f"{display_name(c)} {', '.join(map(str, sorted(c.seeds)))}" for c in cells
        )
    by_reducer: dict[str, list[str]] = {}
    for c in cells:
        by_reducer.setdefault(c.reducer, []).append(display_name(c))
    if len(by_reducer) > 1:
        return "rows reduced differently: " + "; ".join(
            f"{reducer} ({', '.join(names)})" for reducer, names in by_reducer.items()
        )
    return ""


def gains(cells: list[Cell]) -> list[Gain] | None:
    """One Gain per column, in column order; None when the table has no AdAutoMix row."""
    target, own = target_rows(cells)
    if target is None:
        return None
    return [
        _column_gain(column, [c for c in cells if column_of(c) == column], target, own)
        for column in columns(cells)
    ]


def _column_gain(column: tuple[str, str, int], here: list[Cell], target: str, own: set[str]) -> Gain:
    mine = next((c for c in here if c.method == target), None)
    others = [c for c in here if c.method not in own]
    pub_versus, pub_best = _best({c.method: c.primary.value for c in others if c.primary})
    published = None
    if mine and mine.primary and pub_best is not None:
        published = round(mine.primary.value - pub_best, 2) + 0.0
    if mine is None or not others:
        return Gain(
            column, None, None, None, 0, published, pub_versus, refused="no AdAutoMix row or no other row"
        )
    refused = refusal([c for c in here if c is mine or c in others])  # in table order
    if refused:
        return Gain(column, None, None, None, 0, published, pub_versus, refused=refused)
    versus, best = _best({c.method: c.mean for c in others})
    digits = decimals_of(here)
    # From the printed means, as the paper computes its Gain row.
    value = round(round(mine.mean, digits) - round(best, digits), digits) + 0.0  # + 0.0: never -0.00
    rival = next(c for c in others if c.method == versus)
    interval, n, why = None, 0, ""
    if len(mine.seeds) < MIN_SEEDS:
        why = f"fewer than {MIN_SEEDS} seeds"
    else:
        theirs = dict(zip(rival.seeds, rival.values))
        differences = [v - theirs[s] for s, v in zip(mine.seeds, mine.values)]
        interval, n = paired_t_interval(differences), len(differences)
    return Gain(column, value, versus, interval, n, published, pub_versus, why)
