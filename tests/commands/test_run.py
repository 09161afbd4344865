"""A suite over every dataset's fixture runs end to end through `bench run`, and a broken
release stops the run before any job starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import records
from bench.cli import main
from tests.conftest import copy_release, write_suite

ALL_DATASETS = """
name: datasets
axes:
  methods: [vanilla]
  backbones: [tiny_resnet]
  datasets: [cifar10, cifar100, tiny_imagenet, imagenet, cub200, fgvc_aircraft, stanford_cars]
  seeds: [0]
recipe:
  epochs: 1
  batch_size: 16
  image_size: 16
  train_fraction: 0.25
  test_fraction: 0.25
overrides:
  - match: {dataset: imagenet}
    set: {recipe.train_fraction: 0.05, recipe.test_fraction: 0.05}
report:
  reducer: final
"""


@pytest.mark.slow
def test_a_suite_over_every_release_runs_end_to_end(
    project: Path, releases: Path, capsys: pytest.CaptureFixture
) -> None:
    suite = write_suite(project, ALL_DATASETS, "datasets.yaml")
    (project / "bench.toml").write_text(
        (project / "bench.toml").read_text().replace('root = "data"', 'root = "data"\nworkers = 1')
    )
    assert main(["run", str(suite), "--data-root", str(releases)]) == 0
    out = capsys.readouterr().out
    assert "0 already finished, 7 run" in out and "0 failed" in out
    results = [records.read_result(p.parent) for p in (project / "results" / "runs").rglob(records.SPEC)]
    assert len(results) == 7 and all(r.status == "ok" for r in results)
    board = (project / "reports" / "datasets.md").read_text()
    for name in (
        "CIFAR-10",
        "Tiny-ImageNet",
        "ImageNet-1K",
        "CUB-200-2011",
        "FGVC-Aircraft",
        "Stanford-Cars",
    ):
        assert name in board
    assert list((project / "results" / "cache" / "decoded").glob("tiny_imagenet-train-*.pt"))


def test_a_broken_release_stops_the_run_before_any_job(
    project: Path, releases: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = copy_release(releases, "fgvc-aircraft-2013b", project / "data")
    (folder / "data" / "images_variant_test.txt").unlink()
    text = ALL_DATASETS.replace("cifar10, cifar100, tiny_imagenet, imagenet, cub200, ", "")
    suite = write_suite(
        project, text.replace("match: {dataset: imagenet}", "match: {dataset: stanford_cars}"), "a.yaml"
    )
    assert main(["run", str(suite)]) == 2
    err = capsys.readouterr().err
    assert "dataset 'fgvc_aircraft' not found" in err and "images_variant_test.txt" in err
    assert "dataset 'stanford_cars' not found" in err  # every problem at once
    assert not (project / "results" / "runs").exists()
