"""Cells from fabricated run records: a seed's number is used only when its record holds up."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench import records, safe_io
from bench import suite as suite_mod
from bench.report.collect import Provenance, collect, expected_evaluations
from bench.settings import Settings
from tests.conftest import write_suite
from tests.fixtures.cells import Row
from tests.fixtures.runs import MACHINE, history, write_run

SUITE = """
name: recs
axes: {methods: [vanilla, mixup], backbones: [tiny_resnet], datasets: [synthetic], seeds: [0, 1]}
recipe: {epochs: 6, eval_every: 2}
report: {reducer: median_last3}
"""


def jobs(project: Path) -> tuple[suite_mod.Suite, dict[tuple[str, int], suite_mod.Job]]:
    suite = suite_mod.load(write_suite(project, SUITE, "recs.yaml"))
    return suite, {(j.method, j.seed): j for j in suite_mod.expand(suite)}


def mixup(project: Path, settings: Settings, rows: list | None = None, published: list | None = None, **kw):
    """The mixup cell after seed 0 ran well and seed 1 wrote `rows` (or `kw`)."""
    suite, by = jobs(project)
    write_run(by["mixup", 0], settings.runs_root, [60.0, 61.0, 62.0])
    write_run(by["mixup", 1], settings.runs_root, [70.0, 71.0, 72.0], rows=rows, **kw)
    cells = collect(suite, settings, published=published or [], suites_dir=project / "suites")
    return next(c for c in cells if c.method == "mixup"), by


def test_evaluated_epochs_follow_eval_every_and_always_the_last() -> None:
    assert expected_evaluations(6, 2) == [2, 4, 6]
    assert expected_evaluations(5, 2) == [2, 4, 5]
    assert expected_evaluations(3, 1) == [1, 2, 3]


def test_a_good_record_gives_its_value_test_set_time_and_machine(project: Path, settings: Settings) -> None:
    cell, _ = mixup(project, settings, train_seconds=30.0)
    assert cell.values == [61.0, 71.0] and cell.seeds == [0, 1] and not cell.incomplete
    assert cell.curves[0] == [(2, 60.0), (4, 61.0), (6, 62.0)]
    assert cell.test_images == [1024, 1024] and cell.train_seconds == [100.0, 30.0]
    assert cell.machines[0] == Provenance(MACHINE["cpu"], None, "2.14.1+cu130", None, "0123456789abcdef")
    assert cell.expected == 2 and [j.seed for j in cell.jobs] == [0, 1]


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda rows: rows[:3], "metrics.jsonl: holds 3 epochs, but result.json says 6 were completed"),
        (
            lambda rows: rows[:2] + rows[3:],
            "metrics.jsonl: line 3 is epoch 4, expected 3",
        ),
        (
            lambda rows: [r if r["epoch"] != 4 else {"epoch": 4} for r in rows],
            "torn curve: online evaluated at 2 of the 3",
        ),
        (
            lambda rows: [{**r, "test_top1": {"online": math.nan}} if r["epoch"] == 6 else r for r in rows],
            "top-1 of online is nan at epoch 6",
        ),
        (
            lambda rows: [{**r, "test_top1": {"online": math.inf}} if r["epoch"] == 2 else r for r in rows],
            "top-1 of online is inf at epoch 2",
        ),
        (
            lambda rows: [{**r, "test_top1": {"online": 142.0}} if r["epoch"] == 2 else r for r in rows],
            "top-1 of online is 142.0 at epoch 2",
        ),
        (
            lambda rows: [{**r, "test_top1": {"online": None}} if r["epoch"] == 2 else r for r in rows],
            "metrics.jsonl: line 2: test_top1 is not a mapping of network to a number",
        ),
        (
            lambda rows: [{**r, "test_top1": {"ema": 50.0}} if "test_top1" in r else r for r in rows],
            "torn curve: online evaluated at 0 of the 3",
        ),
    ],
)
def test_a_record_that_does_not_hold_up_is_invalid_never_a_value(
    project: Path, settings: Settings, damage, why: str
) -> None:
    _, by = jobs(project)
    rows = damage(history(by["mixup", 1], [70.0, 71.0, 72.0]))
    cell, _ = mixup(project, settings, rows=rows)
    assert cell.values == [61.0] and cell.seeds == [0]
    assert len(cell.invalid) == 1 and cell.invalid[0].startswith(f"seed 1: {why}"), cell.invalid
    assert cell.incomplete.startswith("seed 1:") and cell.delta is None


def test_a_result_that_claims_more_epochs_than_its_curve_is_invalid(
    project: Path, settings: Settings
) -> None:
    cell, _ = mixup(project, settings, epochs_completed=4)
    assert cell.invalid == ["seed 1: metrics.jsonl: holds 6 epochs, but result.json says 4 were completed"]


def test_failed_unreadable_foreign_and_missing_records(project: Path, settings: Settings) -> None:
    suite, by = jobs(project)
    write_run(by["mixup", 0], settings.runs_root, status="error", error="loss became nan in epoch 2")
    run_dir = write_run(by["mixup", 1], settings.runs_root)
    (run_dir / records.RESULT).write_text("{not json")
    vanilla = write_run(by["vanilla", 0], settings.runs_root)
    safe_io.write_json(vanilla / records.RESULT, {"id": "another job", "status": "ok"})
    cells = {c.method: c for c in collect(suite, settings, published=[], suites_dir=project / "suites")}
    assert cells["mixup"].errors == ["seed 0: loss became nan in epoch 2"]
    assert cells["mixup"].invalid[0].startswith("seed 1: result.json: is not valid JSON")
    assert cells["mixup"].incomplete.startswith("1 of 2 seeds failed; seed 1: result.json: is not valid JSON")
    # a result of another job in this job's folder is not believed, and says so
    assert cells["vanilla"].invalid[0].startswith("seed 0: result.json: belongs to job another job")
    assert cells["vanilla"].missing == [1]


def test_published_rows_are_attached_comparable_first_with_their_reasons(
    project: Path, settings: Settings
) -> None:
    rows = [
        Row(
            80.0,
            "Other recipe",
            method="mixup",
            dataset="synthetic",
            backbone="tiny_resnet",
            epochs=6,
            suite="recs",
            reducer="final",
        ),
        Row(
            60.0,
            "Same",
            method="mixup",
            dataset="synthetic",
            backbone="tiny_resnet",
            epochs=6,
            suite="recs",
            reducer="median_last3",
            role="secondary",
        ),
        Row(
            70.0,
            "Robustness",
            method="mixup",
            dataset="synthetic",
            backbone="tiny_resnet",
            epochs=6,
            suite="recs",
            metric="fgsm_error",
        ),
        Row(
            70.0,
            "Longer",
            method="mixup",
            dataset="synthetic",
            backbone="tiny_resnet",
            epochs=60,
            suite="recs",
        ),
    ]
    cell, _ = mixup(project, settings, published=rows)
    assert [p.source for p in cell.published] == ["Same", "Other recipe"]  # top-1 at this budget only
    assert cell.verdicts == [[], ["reducer median_last3 ≠ final"]]
    assert cell.reasons == [] and cell.delta == pytest.approx(66.0 - 60.0)
