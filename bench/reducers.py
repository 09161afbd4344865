"""Reducers: how a per-epoch accuracy curve becomes the one number in a table.

Published mixup numbers use different reducers (OpenMixup CNNs: median of the last 10 epochs;
ViTs: best of the last 10; AutoMix/AdAutoMix: a median over the last 11 or 12 epochs, whichever
is larger). A number is only comparable with another computed by the same reducer, so every
table states its reducer, and run folders keep the whole curve so any reducer can be applied later.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence

_WINDOW = re.compile(r"^(median|best|mean)_last([1-9]\d*)$")  # K >= 1: 'median_last0' is no window
NAMES = ("final", "best", "median_lastK", "best_lastK", "mean_lastK", "openmixup_automix")
# Reducers that pick an epoch by its test accuracy: the number is selected on the test set.
TEST_SELECTED = ("best",)


def check(reducer: str) -> str:
    """Return `reducer` if it is valid, else raise ValueError listing the forms."""
    if reducer in ("final", "best", "openmixup_automix") or _WINDOW.match(reducer):
        return reducer
    raise ValueError(
        f"unknown reducer {reducer!r}; valid: {', '.join(NAMES)} (K an integer >= 1, e.g. median_last10)"
    )


def reduce(values: Sequence[float], reducer: str) -> float:
    """Reduce the evaluated values of one network, in epoch order, to one number."""
    check(reducer)
    if not values:
        raise ValueError("no evaluated epochs to reduce")
    if reducer == "final":
        return float(values[-1])
    if reducer == "best":
        return float(max(values))
    if reducer == "openmixup_automix":
        # OpenMixup tools/summary/find_automix_val_median.py with record_num=10: take the last 12
        # evaluations, and report the larger of the medians of their first 11 and of all 12.
        window = list(values[-12:])
        candidates = [statistics.median(window)]
        if len(window) > 1:
            candidates.append(statistics.median(window[:-1]))
        return float(max(candidates))
    kind, k = _WINDOW.match(reducer).groups()  # type: ignore[union-attr]
    window = list(values[-int(k) :])
    if kind == "median":
        return float(statistics.median(window))
    if kind == "best":
        return float(max(window))
    return float(statistics.fmean(window))


def reduce_networks(curves: dict[str, Sequence[float]], network: str, reducer: str) -> tuple[float, str]:
    """Reduce `network`, which may name alternatives ('ema|ema_mix': the larger after reducing).

    Returns the value and the network it came from.
    """
    options = [n for n in network.split("|") if n]
    missing = [n for n in options if n not in curves]
    if missing:
        raise KeyError(f"network {missing[0]!r} not recorded; recorded: {', '.join(curves)}")
    scored = [(reduce(curves[n], reducer), n) for n in options]
    return max(scored)


def describe(reducer: str) -> str:
    """What `reducer` computes, as a phrase for table notes (published-only names included)."""
    fixed = {
        "final": "the last evaluated epoch",
        "best": "the best evaluated epoch (selected on the test set)",
        "openmixup_automix": "the larger of the medians of the last 12 evaluated epochs and of their first 11 "
        "(OpenMixup's find_automix_val_median)",
        "mean_best_3runs": "the mean over 3 runs of each run's best epoch",
        "unknown": "not stated by the source",
    }
    if reducer in fixed:
        return fixed[reducer]
    match = _WINDOW.match(reducer)
    if not match:
        return reducer
    kind, k = match.groups()
    selected = " (selected on the test set)" if kind == "best" else ""
    return f"{kind} of the last {k} evaluated epochs{selected}"
