"""`bench compare` as a CI gate: its table lists every cell's state, its exit code cannot pass on
failed, missing, incomparable or NaN runs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench import suite as suite_mod
from bench.cli import main
from bench.report import collect
from bench.settings import Settings
from tests.conftest import write_suite
from tests.fixtures.cells import Row
from tests.fixtures.runs import history, write_run

TRAINED = """
name: tiny
axes: {methods: [mixup], backbones: [tiny_resnet], datasets: [synthetic], seeds: [0]}
recipe: {epochs: 2, batch_size: 32, train_fraction: 0.125, test_fraction: 0.25, image_size: 16}
report: {reducer: final}
"""

FABRICATED = """
name: fab
axes: {methods: [vanilla, mixup], backbones: [tiny_resnet], datasets: [synthetic], seeds: [0, 1]}
recipe: {epochs: 4}
report: {reducer: median_last3}
"""


def published(monkeypatch: pytest.MonkeyPatch, suite: str, epochs: int, **values: float) -> None:
    rows = [
        Row(
            value,
            "Paper",
            reducer=reducer,
            dataset="synthetic",
            backbone="tiny_resnet",
            method=method,
            epochs=epochs,
            suite=suite,
        )
        for method, value in values.items()
        for reducer in (["final"] if suite == "tiny" else ["median_last3"])
    ]
    monkeypatch.setattr(collect, "published_rows", lambda settings: rows)


def test_a_trained_run_passes_fails_and_is_refused_by_the_gate(
    project: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    write_suite(project, TRAINED, "tiny.yaml")
    assert main(["run", "suites/tiny.yaml"]) == 0
    (cell,) = collect.collect(suite_mod.load("suites/tiny.yaml"), settings, published=[])
    capsys.readouterr()
    ours = cell.mean
    published(monkeypatch, "tiny", 2, mixup=ours + 5)
    assert main(["compare", "suites/tiny.yaml", "--tolerance", "1"]) == 1
    assert "regression" in capsys.readouterr().out
    published(monkeypatch, "tiny", 2, mixup=ours - 5)
    assert main(["compare", "suites/tiny.yaml", "--tolerance", "1"]) == 1
    assert "above" in capsys.readouterr().out
    published(monkeypatch, "tiny", 2, mixup=ours + 0.5)
    assert main(["compare", "suites/tiny.yaml", "--tolerance", "1"]) == 0
    assert "1 ok" in capsys.readouterr().out
    write_suite(project, TRAINED.replace("batch_size: 32", "batch_size: 64"), "other.yaml")
    monkeypatch.setattr(
        collect,
        "published_rows",
        lambda s: [
            Row(
                ours,
                "P",
                reducer="final",
                dataset="synthetic",
                backbone="tiny_resnet",
                method="mixup",
                epochs=2,
                suite="other",
            )
        ],
    )
    assert main(["compare", "suites/tiny.yaml"]) == 3  # the published run used batch 64: nothing compared
    output = capsys.readouterr().out
    assert "batch_size 32 ≠ 64" in output and "exit 3 (incomplete: nothing compared)" in output


@pytest.mark.parametrize(
    ("seed1", "code", "said"),
    [
        (dict(values=[70.0, 71.0, 72.0]), 0, "2 ok"),
        (dict(status="error", error="CUDA error: out of memory"), 3, "CUDA error"),
        (None, 3, "1 of 2 seeds not run"),
        ("nan", 3, "top-1 of online is nan"),
        ("torn", 3, "holds 2 epochs"),
    ],
)
def test_every_incomplete_cell_makes_exit_3(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, seed1, code: int, said: str
) -> None:
    suite = suite_mod.load(write_suite(project, FABRICATED, "fab.yaml"))
    runs = project / "results" / "runs"
    for job in suite_mod.expand(suite):
        if job.seed == 0 or job.method == "vanilla":
            write_run(job, runs, [70.0, 71.0, 72.0])
        elif seed1 == "nan":
            write_run(job, runs, rows=history(job, [70.0, math.nan, 72.0]))
        elif seed1 == "torn":
            write_run(job, runs, rows=history(job, [70.0, 71.0, 72.0])[:2])
        elif seed1 is not None:
            write_run(job, runs, **seed1)
    published(monkeypatch, "fab", 4, vanilla=71.0, mixup=71.0)
    assert main(["compare", "suites/fab.yaml"]) == code
    assert said in capsys.readouterr().out


def test_a_regression_is_exit_1_even_beside_an_incomplete_cell(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    suite = suite_mod.load(write_suite(project, FABRICATED, "fab.yaml"))
    for job in suite_mod.expand(suite):
        if job.method == "vanilla":
            write_run(job, project / "results" / "runs", [60.0, 61.0, 62.0])
    published(monkeypatch, "fab", 4, vanilla=71.0, mixup=71.0)
    assert main(["compare", "suites/fab.yaml"]) == 1
    output = capsys.readouterr().out
    assert "1 regression" in output and "1 not run" in output


def test_tolerance_se_widens_the_band_and_refuses_single_seeds(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    suite = suite_mod.load(write_suite(project, FABRICATED, "fab.yaml"))
    for job in suite_mod.expand(suite):  # means 70 with seeds 68 and 72: s = 2.83
        last = 68.0 if job.seed == 0 else 72.0
        write_run(job, project / "results" / "runs", [last - 1, last, last + 1])
    published(monkeypatch, "fab", 4, vanilla=72.5, mixup=72.5)
    assert main(["compare", "suites/fab.yaml", "--tolerance", "1"]) == 1
    assert main(["compare", "suites/fab.yaml", "--tolerance", "1", "--tolerance-se", "1"]) == 0
    single = suite_mod.load(
        write_suite(project, FABRICATED.replace("seeds: [0, 1]", "seeds: [0]"), "fab.yaml")
    )
    assert suite_mod.expand(single)
    assert main(["compare", "suites/fab.yaml", "--tolerance-se", "1"]) == 3
    assert "no spread for --tolerance-se" in capsys.readouterr().out
    assert main(["compare", "suites/fab.yaml", "--tolerance", "-1"]) == 2
