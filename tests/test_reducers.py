"""Reducers: the statistic that turns an accuracy curve into one number."""

from __future__ import annotations

import pytest

from bench import reducers


def test_basic_reducers() -> None:
    curve = [10.0, 50.0, 40.0, 30.0, 20.0]
    assert reducers.reduce(curve, "final") == 20.0
    assert reducers.reduce(curve, "best") == 50.0
    assert reducers.reduce(curve, "median_last3") == 30.0
    assert reducers.reduce(curve, "best_last3") == 40.0
    assert reducers.reduce(curve, "mean_last2") == 25.0
    assert reducers.reduce(curve, "median_last10") == 30.0  # shorter curves use what there is


def test_openmixup_automix_takes_the_larger_of_the_11_and_12_record_medians() -> None:
    curve = list(range(100, 112))  # 12 records 100..111
    # all 12: median 105.5; first 11: median 105 -> 105.5
    assert reducers.reduce([0.0] * 5 + curve, "openmixup_automix") == 105.5
    falling = list(range(111, 99, -1))  # first 11 of the last 12: 111..101, median 106
    assert reducers.reduce(falling, "openmixup_automix") == 106.0


def test_alternative_networks_take_the_larger() -> None:
    curves = {"ema": [1.0, 2.0], "ema_mix": [3.0, 0.5]}
    assert reducers.reduce_networks(curves, "ema|ema_mix", "best") == (3.0, "ema_mix")
    assert reducers.reduce_networks(curves, "ema", "final") == (2.0, "ema")
    with pytest.raises(KeyError, match="not recorded"):
        reducers.reduce_networks(curves, "online", "final")


def test_unknown_reducers_are_rejected() -> None:
    for bad in ("median", "last10", "median_lastx", ""):
        with pytest.raises(ValueError, match="unknown reducer"):
            reducers.check(bad)
