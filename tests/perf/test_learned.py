"""The step-cost benchmark's rows (its timings are never asserted: it is a script, not a timed test)."""

from __future__ import annotations

import pytest

from bench.perf.learned import markdown, measure


def test_measure_reports_every_pass_the_sum_and_the_step() -> None:
    rows = measure(batch_size=4, repeats=1, backbone="tiny_resnet", clock="process")
    measures = {(r["method"], r["measure"]) for r in rows}
    assert ("vanilla", "step") in measures
    for method in ("automix", "adautomix"):
        assert {
            (method, "sum of passes"),
            (method, "full step"),
            (method, "teacher forward (stage-3 map)"),
        } <= measures
    assert ("adautomix", "classifier fwd+bwd, linear mix") in measures
    assert ("automix", "classifier fwd+bwd, linear mix") not in measures
    for method in ("automix", "adautomix"):
        passes = [r["seconds"] for r in rows if r["method"] == method and r["vs_sum"] is None]
        total = next(r for r in rows if (r["method"], r["measure"]) == (method, "sum of passes"))
        step = next(r for r in rows if (r["method"], r["measure"]) == (method, "full step"))
        assert total["seconds"] == pytest.approx(sum(passes))
        assert step["vs_sum"] == pytest.approx(step["seconds"] / total["seconds"])
    assert markdown(rows).count("\n") == len(rows) + 1


def test_an_unknown_clock_is_rejected() -> None:
    with pytest.raises(ValueError, match="clock must be"):
        measure(clock="gpu")
