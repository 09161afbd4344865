"""`--only AXIS=V1,V2`: a slice of a suite's cells for run, plan, leaderboard and status."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import suite
from bench.cli import main
from bench.errors import BenchError
from tests.conftest import write_suite

SUITE = """
name: sliced
axes:
  methods: [vanilla, mixup, {method: mixup, label: mixup_a02, params: {alpha: 0.2}}]
  backbones: [tiny_resnet]
  datasets: [synthetic]
  seeds: [0, 1]
include:
  - {method: cutmix, backbone: tiny_resnet, dataset: synthetic, seeds: [5]}
recipe: {epochs: 1, batch_size: 32, train_fraction: 0.125, test_fraction: 0.25, image_size: 16}
report: {reducer: final}
"""


@pytest.fixture
def sliced(project: Path) -> suite.Suite:
    return suite.load(write_suite(project, SUITE, "sliced.yaml"))


def cells(s: suite.Suite) -> list[tuple[str, int]]:
    return [(j.method, j.seed) for j in s.jobs]


def test_only_keeps_the_matching_cells_and_unites_values_of_one_axis(sliced: suite.Suite) -> None:
    assert len(sliced.jobs) == 3 * 2 + 1
    assert cells(sliced.with_only(["method=mixup_a02,vanilla"])) == [
        ("vanilla", 0),
        ("vanilla", 1),
        ("mixup_a02", 0),
        ("mixup_a02", 1),
    ]
    both = sliced.with_only(["method=vanilla", "seed=1", "method=cutmix,mixup", "seed=5"])
    assert cells(both) == [("vanilla", 1), ("mixup", 1), ("cutmix", 5)]  # include's cells count too
    assert both.slice_text == "method=vanilla,cutmix,mixup seed=1,5"
    assert {j.id for j in both.jobs} <= {j.id for j in sliced.jobs}  # the same jobs, not new ones


@pytest.mark.parametrize(
    ("only", "expected"),
    [
        (
            "methods=mixup",
            "unknown axis 'methods' (did you mean 'method'?); axes: method, backbone, dataset, seed",
        ),
        ("method=mixpu", "not a method of suite 'sliced' (did you mean 'mixup'"),
        ("seed=7", "not a seed of suite 'sliced'; its seeds: 0, 1, 5"),
        ("dataset=", "expected AXIS=VALUE[,VALUE...]"),
        ("mixup", "expected AXIS=VALUE[,VALUE...]"),
    ],
)
def test_bad_filters_are_refused_with_the_valid_choices(
    sliced: suite.Suite, only: str, expected: str
) -> None:
    with pytest.raises(BenchError) as info:
        sliced.with_only([only])
    assert str(info.value).startswith(f"--only {only}")
    assert expected in str(info.value)


def test_a_combination_no_cell_has_is_refused(sliced: suite.Suite) -> None:
    with pytest.raises(BenchError, match="no cell of suite 'sliced' has this combination"):
        sliced.with_only(["method=cutmix", "seed=0"])


def test_cli_run_and_leaderboard_of_a_slice(project: Path, capsys: pytest.CaptureFixture) -> None:
    write_suite(project, SUITE, "sliced.yaml")
    assert main(["plan", "suites/sliced.yaml", "--only", "method=vanilla", "--only", "seed=0"]) == 0
    assert "sliced: 1 job, slice method=vanilla seed=0" in capsys.readouterr().out
    assert main(["run", "suites/sliced.yaml", "--only", "method=vanilla,cutmix", "--executor", "inline"]) == 0
    assert "0 already finished, 3 run" in capsys.readouterr().out
    board = (project / "reports" / "sliced.md").read_text()
    assert board.startswith("# Leaderboard: sliced, slice method=vanilla,cutmix\n")
    assert "--only method=vanilla,cutmix` from the run records" in board
    assert "| MixUp |" not in board and "| CutMix |" in board
    assert main(["leaderboard", "suites/sliced.yaml"]) == 0  # the whole suite: the rest not run
    assert "| MixUp | not run" in (project / "reports" / "sliced.md").read_text()
    assert main(["plan", "suites/sliced.yaml", "--only", "backbone=resnet18"]) == 2
    assert "not a backbone of suite 'sliced' (did you mean 'tiny_resnet'?); its backbones: tiny_resnet" in (
        capsys.readouterr().err
    )
