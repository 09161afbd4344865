"""`bench import-logs`: logs mapped to suite cells, differing settings reported, curve files written."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main
from bench.published import logs
from tests.conftest import write_suite

FIXTURES = Path(__file__).parent.parent / "fixtures" / "released_logs"

SUITE = """
name: paper_test
axes: {methods: [cutmix, adautomix], backbones: [resnet18], datasets: [cifar100], seeds: [0, 1]}
recipe:
  epochs: 12
  batch_size: 100
  optimizer: {name: sgd, lr: 0.1, momentum: 0.9, weight_decay: 1.0e-4}
method_params:
  cutmix: {alpha: 0.2}
overrides:
  - match: {method: adautomix}
    set: {recipe.schedule.min_lr: 0.05}
    source: "the fixture log's header: min_lr 0.05"
"""


def test_logs_are_mapped_reported_and_written(project: Path, capsys: pytest.CaptureFixture) -> None:
    suite = write_suite(project, SUITE, "paper_test.yaml")
    code = main(
        ["import-logs", str(FIXTURES), "--suite", str(suite), "--source", "fixture", "--commit", "c0"]
    )
    text = capsys.readouterr().out
    assert code == 0
    lines = {line.split("│")[1].strip(): line for line in text.splitlines() if "experiments/" in line}
    assert "alpha: log 1, cell 0.2" in lines["experiments/CIFAR100/cutmix_r18_12e.json"]
    assert "as the cell" in lines["experiments/CIFAR100/adautomix_r18_12e.log"]
    assert "1 log-to-cell mappings differ" in text
    written = logs.load_logs(project / "results" / "published" / "logs")
    assert sorted(log.file for log in written) == [
        "experiments/CIFAR100/adautomix_r18_12e.log",
        "experiments/CIFAR100/cutmix_r18_12e.json",
    ]
    assert {(log.source, log.commit) for log in written} == {("fixture", "c0")}


def test_a_log_without_a_cell_and_a_bad_folder(project: Path, capsys: pytest.CaptureFixture) -> None:
    other = write_suite(project, SUITE.replace("epochs: 12", "epochs: 30"), "other.yaml")
    assert main(["import-logs", str(FIXTURES), "--suite", str(other), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert text.count("no suite has this cell") == 2 and "wrote" not in text
    assert not (project / "results" / "published" / "logs").exists()
    assert main(["import-logs", str(project / "missing")]) == 2
    assert "not a folder" in capsys.readouterr().err
