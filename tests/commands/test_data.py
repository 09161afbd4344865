"""`bench data check`: found/missing/incomplete/broken per dataset, exit codes, no tracebacks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bench import registry
from bench.cli import main
from tests.conftest import copy_release
from tests.fixtures.releases import SIZES


def check(*args: str) -> int:
    return main(["data", "check", *args])


def test_fixture_releases_are_found_with_their_counts(
    project: Path, releases: Path, capsys: pytest.CaptureFixture
) -> None:
    assert check("--data-root", str(releases)) == 1  # tiny copies: found, but not the full release
    out = capsys.readouterr().out
    for name in registry.DATASETS:
        assert name in out
    assert "incomplete" in out and "generated" in out
    assert "400 / 100,000" in out and "1,000 / 1,281,167" in out and "196 / 196" in out
    assert "tiny_imagenet: train split: 400 images, the full release has 100,000" in out
    assert "sample images decoded:" in out


def test_a_complete_release_is_ok(
    project: Path, releases: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the expected sizes set to the fixture's, the same reader reports ok and exits 0."""
    spec = registry.get("datasets", "cub200").load()
    monkeypatch.setattr("bench.data.cub200.CUB200", replace(spec, split_sizes=SIZES["cub200"]))
    assert check("cub200", "--data-root", str(releases)) == 0
    out = capsys.readouterr().out
    assert "ok" in out and "200 / 200" in out


def test_missing_datasets(project: Path, capsys: pytest.CaptureFixture) -> None:
    (project / "data").mkdir()
    assert check() == 0  # nothing found is not an error when no dataset was asked for
    out = capsys.readouterr().out
    for name in set(registry.DATASETS) - {"synthetic"}:
        assert f"{name}: not found in {project / 'data'}" in out
    assert "Expected layout" not in out  # kept short when not asked for by name
    assert check("stanford_cars") == 1  # but it is an error when named, with the layout
    out = capsys.readouterr().out
    assert "not found" in out and "stanford_cars/cars_test_annos_withlabels.mat" in out


def test_a_folder_missing_a_file_is_an_error_even_unnamed(
    project: Path, releases: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = copy_release(releases, "stanford_cars", project / "data")
    (folder / "cars_test_annos_withlabels.mat").unlink()
    assert check() == 1
    out = capsys.readouterr().out
    assert "did not find cars_test_annos_withlabels.mat" in out and "pytorch/vision#7545" in out


def test_broken_dataset_reports_the_file_without_traceback(
    project: Path, releases: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = copy_release(releases, "CUB_200_2011", project / "data")
    labels = folder / "image_class_labels.txt"
    rows = labels.read_text().splitlines()
    rows[4] = "5 0"
    labels.write_text("\n".join(rows) + "\n")
    assert check("cub200") == 1
    captured = capsys.readouterr()
    assert "error" in captured.out
    assert "image_class_labels.txt:5: class '0' of image 5 is outside 1..200" in captured.out
    assert "Traceback" not in captured.out + captured.err


def test_unknown_name_lists_the_valid_ones(project: Path, capsys: pytest.CaptureFixture) -> None:
    assert check("cub") == 2
    err = capsys.readouterr().err
    assert "unknown dataset 'cub'" in err and "cub200" in err and "stanford_cars" in err
