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


def test_openmixup_median_keeps_epochs_from_e_minus_k() -> None:
    # 20 epochs valued 1..20: epochs >= 10 are 11 values (10..20), median 15; the last 10 give 15.5
    curve = [(e, float(e)) for e in range(1, 21)]
    assert reducers.reduce(curve, "openmixup_median10") == 15.0
    assert reducers.reduce(curve, "median_last10") == 15.5
    # ImageNet's "last 5" of 100 epochs: epochs 95..100, six values
    hundred = [(e, float(e)) for e in range(1, 101)]
    assert reducers.reduce(hundred, "openmixup_median5") == 97.5
    # the tool counts epochs, not evaluations: every 2nd epoch evaluated -> epochs 10,12,..,20
    sparse = [(e, float(e)) for e in range(2, 21, 2)]
    assert reducers.reduce(sparse, "openmixup_median10") == 15.0
    # E is the schedule's length: a curve that stops early keeps fewer values
    assert reducers.reduce(curve[:15], "openmixup_median10", epochs=20) == 12.5


def test_openmixup_automix_chooses_the_window_on_every_head_then_reports_the_network() -> None:
    epochs = range(1, 13)  # 12 records: epochs >= 12 - 11
    rising = [(e, 100.0 + e) for e in epochs]  # first 11: median 106; all 12: 106.5
    falling = [(e, 200.0 - e) for e in epochs]  # first 11: 194; all 12: 193.5
    # the online head's medians are the largest and fall with 12 records: the window is 11 records,
    # so the EMA head reports the median of its first 11 (106), not of all 12 (106.5)
    curves = {"ema": rising, "ema_mix": rising, "online": falling, "online_mix": falling}
    assert reducers.reduce_networks(curves, "ema|ema_mix", "openmixup_automix10") == (106.0, "ema_mix")
    # alone, the EMA head would choose 12 records
    assert reducers.reduce(rising, "openmixup_automix10") == 106.5
    # the old name means K = 10
    assert reducers.reduce_networks(curves, "ema", "openmixup_automix") == (106.0, "ema")


def test_openmixup_automix_with_sparse_evaluations_and_small_k() -> None:
    # evaluated every 2 epochs of 40: epochs >= 29 are 30, 32, .., 40 (6 records)
    curve = [(e, float(e)) for e in range(2, 41, 2)]
    assert reducers.reduce(curve, "openmixup_automix10") == 35.0  # all 6: (34 + 36) / 2
    # K < 10 has no extra record: epochs >= 100 - 5 are six, the window five or six of them
    hundred = [(e, float(101 - e)) for e in range(1, 101)]  # falling: 6..1
    assert reducers.reduce(hundred, "openmixup_automix5") == 4.0  # first 5: 6,5,4,3,2


def test_reducer_descriptions_say_how_many_values() -> None:
    assert "11 values" in reducers.describe("openmixup_median10")
    assert "find_automix_val_median" in reducers.describe("openmixup_automix")
    assert reducers.describe("median_last10") == "median of the last 10 evaluated epochs"
