"""Reducers: how a per-epoch accuracy curve becomes the one number in a table.

Published mixup numbers use different statistics, and a number is only comparable with another
computed by the same one, so every table states its reducer and run folders keep the whole curve
(any reducer can be applied later). The names say what is computed:

* `final`, `best`: the last evaluation; the best one (selected on the test set).
* `median_lastK`, `best_lastK`, `mean_lastK`: over the last K *evaluations*, whatever their epochs.
* `openmixup_medianK`: OpenMixup's `tools/summary/find_classification_val_median.py` with
  record_num K: the median over the evaluations of epochs >= E - K, where E is the schedule's
  length. Evaluated every epoch that is K + 1 values (the "median of the last 10 epochs" of the
  CIFAR and fine-grained tables is 11 values; ImageNet's "last 5" is 6).
* `openmixup_automixK`: OpenMixup's `tools/summary/find_automix_val_median.py` with record_num K
  (`openmixup_automix` is K = 10, the setting of every published AutoMix/AdAutoMix CNN value).
  It keeps the evaluations of epochs >= E - K - 1 (K >= 10; E - K below 10), n of them; chooses
  the window once, the first n - 1 or all n, whichever gives the larger median on any of the
  networks recorded (the tool looks at all four heads: one-hot and mix, online and EMA; a tie
  keeps n - 1, as numpy's argmax does); then reports, inside that window, the median of the
  network asked for (with alternatives 'ema|ema_mix': the larger).

Curves are (epoch, top-1) pairs; a bare list of values is read as epochs 1, 2, 3, ...
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping, Sequence

_WINDOW = re.compile(r"^(median|best|mean)_last([1-9]\d*)$")  # K >= 1: 'median_last0' is no window
_OPENMIXUP = re.compile(r"^openmixup_(median|automix)([1-9]\d*)$")
NAMES = (
    "final",
    "best",
    "median_lastK",
    "best_lastK",
    "mean_lastK",
    "openmixup_medianK",
    "openmixup_automixK",
)
# Reducers that pick an epoch by its test accuracy: the number is selected on the test set.
TEST_SELECTED = ("best",)
# The name the suites and tables used before K was part of it; it means K = 10.
ALIASES = {"openmixup_automix": "openmixup_automix10"}

Curve = Sequence[tuple[int, float]]


def check(reducer: str) -> str:
    """Return `reducer` if it is valid, else raise ValueError listing the forms."""
    name = ALIASES.get(reducer, reducer)
    if name in ("final", "best") or _WINDOW.match(name) or _OPENMIXUP.match(name):
        return reducer
    raise ValueError(
        f"unknown reducer {reducer!r}; valid: {', '.join(NAMES)} (K an integer >= 1, e.g. openmixup_median10)"
    )


def as_curve(values: Sequence[float] | Curve) -> list[tuple[int, float]]:
    """(epoch, value) pairs; bare values are numbered 1, 2, 3, ..."""
    out = []
    for i, item in enumerate(values, start=1):
        if isinstance(item, (tuple, list)):
            out.append((int(item[0]), float(item[1])))
        else:
            out.append((i, float(item)))
    return out


def _openmixup_records(curve: list[tuple[int, float]], kind: str, k: int, epochs: int | None) -> list[float]:
    """The evaluations the OpenMixup tool keeps: epochs >= E - K (median), E - K - bias (automix)."""
    total = epochs if epochs is not None else curve[-1][0]
    bias = 1 if kind == "automix" and k >= 10 else 0
    return [value for epoch, value in curve if epoch >= total - k - bias]


def _window_size(records: Mapping[str, list[float]]) -> int:
    """find_automix_val_median's choice: n - 1 or n records, by the larger median on any network."""
    n = min(len(values) for values in records.values())
    if n <= 1:  # the tool takes the median of an empty list here (nan); one record is what there is
        return n
    best_short = max(statistics.median(v[: n - 1]) for v in records.values())
    best_full = max(statistics.median(v[:n]) for v in records.values())
    return n - 1 if best_short >= best_full else n


def reduce(values: Sequence[float] | Curve, reducer: str, *, epochs: int | None = None) -> float:
    """Reduce one network's evaluations, in epoch order, to one number.

    `epochs`: the schedule's length E, for the openmixup_* reducers (default: the last epoch
    evaluated, which is E for a finished run).
    """
    value, _ = reduce_networks({"_": values}, "_", reducer, epochs=epochs)
    return value


def _reduce_window(curve: list[tuple[int, float]], reducer: str) -> float:
    if reducer == "final":
        return curve[-1][1]
    if reducer == "best":
        return max(v for _, v in curve)
    kind, k = _WINDOW.match(reducer).groups()  # type: ignore[union-attr]
    window = [v for _, v in curve[-int(k) :]]
    if kind == "median":
        return float(statistics.median(window))
    if kind == "best":
        return float(max(window))
    return float(statistics.fmean(window))


def reduce_networks(
    curves: Mapping[str, Sequence[float] | Curve], network: str, reducer: str, *, epochs: int | None = None
) -> tuple[float, str]:
    """Reduce `network`, which may name alternatives ('ema|ema_mix': the larger after reducing).

    `curves` holds every network recorded (the openmixup_automix window looks at all of them).
    Returns the value and the network it came from.
    """
    check(reducer)
    reducer = ALIASES.get(reducer, reducer)
    options = [n for n in network.split("|") if n]
    missing = [n for n in options if n not in curves]
    if missing:
        raise KeyError(f"network {missing[0]!r} not recorded; recorded: {', '.join(curves)}")
    parsed = {name: as_curve(values) for name, values in curves.items()}
    if any(not parsed[n] for n in options):
        raise ValueError("no evaluated epochs to reduce")
    match = _OPENMIXUP.match(reducer)
    if match is None:
        return max((_reduce_window(parsed[n], reducer), n) for n in options)
    kind, k = match.group(1), int(match.group(2))
    records = {name: _openmixup_records(c, kind, k, epochs) for name, c in parsed.items() if c}
    if any(not records[n] for n in options):
        raise ValueError(f"no evaluation at or after epoch {(epochs or 0) - k} to reduce with {reducer}")
    if kind == "median":
        return max((float(statistics.median(records[n])), n) for n in options)
    size = _window_size(records)
    return max((float(statistics.median(records[n][:size])), n) for n in options)


def describe(reducer: str) -> str:
    """What `reducer` computes, as a phrase for table notes (published-only names included)."""
    fixed = {
        "final": "the last evaluated epoch",
        "best": "the best evaluated epoch (selected on the test set)",
        "mean_best_3runs": "the mean over 3 runs of each run's best epoch",
        "unknown": "not stated by the source",
    }
    name = ALIASES.get(reducer, reducer)
    if name in fixed:
        return fixed[name]
    match = _OPENMIXUP.match(name)
    if match:
        kind, k = match.group(1), int(match.group(2))
        if kind == "median":
            return (
                f"the median of the evaluations of epochs >= E - {k} ({k + 1} values when evaluated every "
                "epoch; OpenMixup's find_classification_val_median)"
            )
        first = k + 1 if k >= 10 else k
        return (
            f"OpenMixup's find_automix_val_median: of the evaluations of epochs >= E - {first}, the first "
            f"{first} or all {first + 1}, whichever gives the larger median on any head, then the median "
            "of the network reported"
        )
    match = _WINDOW.match(name)
    if not match:
        return reducer
    kind, k = match.groups()
    selected = " (selected on the test set)" if kind == "best" else ""
    return f"{kind} of the last {k} evaluated epochs{selected}"
