"""Leaderboard figures: the data each one draws, and valid PNG files of sensible size."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from bench import suite as suite_mod
from bench.cli import main
from bench.report import plots
from bench.report.write import write_leaderboard
from bench.settings import Settings
from tests.fixtures.cells import paper_cells
from tests.report.test_leaderboard import fake_runs, write_published


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, after checking the signature."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_top1_panels_carry_means_seeds_and_published_values(adautomix_alias: None) -> None:
    panels = plots.top1_panels(paper_cells())
    assert [p.title for p in panels] == [
        "CIFAR-100 ResNet-18 (800 ep)",
        "CIFAR-100 ResNeXt-50(32x4d) (800 ep)",
        "CIFAR-10 ResNet-18 (800 ep)",
    ]
    first = panels[0].points
    assert [p.method for p in first] == ["Vanilla", "MixUp", "CutMix", "AdAutoMix"]
    assert first[2].values == [78.5, 78.9] and first[2].mean == pytest.approx(78.7)
    assert (
        first[2].published == 78.30 and not first[2].comparable
    )  # the source with our reducer; a seed failed
    mixup_rx50 = panels[1].points[1]
    assert mixup_rx50.published == 82.10 and not mixup_rx50.comparable  # other reducer
    c10 = {p.method: p for p in panels[2].points}
    assert c10["MixUp"].mean is None and c10["AdAutoMix"].published is None


def test_curve_panels_average_the_epochs_every_seed_has(adautomix_alias: None) -> None:
    panels = plots.curve_panels(paper_cells())
    vanilla = panels[0].series[0]
    # curves are v - 3 + epoch for v in 78.1, 78.3, 78.2
    assert vanilla.method == "Vanilla" and vanilla.network == "online" and vanilla.epochs == [1, 2, 3]
    assert vanilla.mean == pytest.approx([76.2, 77.2, 78.2])
    assert vanilla.low == pytest.approx([76.1, 77.1, 78.1]) and vanilla.high == pytest.approx(
        [76.3, 77.3, 78.3]
    )
    assert vanilla.seeds == 3
    assert [s.method for s in panels[2].series] == ["Vanilla", "CutMix", "AdAutoMix"]  # MixUp never ran
    assert panels[2].series[2].network == "ema"


def test_delta_grid_colours_only_comparable_cells(adautomix_alias: None) -> None:
    grid = plots.delta_grid(paper_cells())
    assert grid.rows == ["Vanilla", "MixUp", "CutMix", "AdAutoMix"]
    assert grid.columns[1] == "CIFAR-100\nResNeXt-50(32x4d) (800 ep)"
    assert grid.labels == [
        ["+0.16", "-0.39", "+0.10"],
        ["+0.88", "n/c", "not run"],
        ["n/c", "no pub.", "-0.28"],  # a seed failed
        ["-0.95", "n/c", "no pub."],  # reduced otherwise than its published value
    ]
    assert grid.values[0][0] == pytest.approx(78.2 - 78.04)
    coloured = [(i, j) for i, row in enumerate(grid.values) for j, v in enumerate(row) if v is not None]
    assert coloured == [(0, 0), (0, 1), (0, 2), (1, 0), (2, 2), (3, 0)]


def test_figures_are_valid_pngs_of_sensible_size(tmp_path: Path, adautomix_alias: None) -> None:
    paths = plots.write(paper_cells(), tmp_path, "golden", title="Leaderboard: golden")
    assert [p.name for p in paths] == ["golden-top1.png", "golden-curves.png", "golden-delta.png"]
    for path in paths:
        width, height = png_size(path)
        assert 700 <= width <= 2500 and 400 <= height <= 2500, (path.name, width, height)
        assert path.stat().st_size > 20_000  # drawn, not blank


def test_bench_leaderboard_writes_the_figures_beside_the_markdown(
    project: Path, settings: Settings, capsys: pytest.CaptureFixture
) -> None:
    write_published(project)
    fake_runs(project, settings)
    assert main(["leaderboard", "suites/suite.yaml"]) == 0
    reports = project / "reports"
    figures = [reports / f"golden-{kind}.png" for kind in ("top1", "curves", "delta")]
    assert all(png_size(f)[0] > 0 for f in figures)
    assert (reports / "golden.csv").exists() and "`golden-top1.png`" in (reports / "golden.md").read_text()
    assert str(figures[2]) in capsys.readouterr().out
    # no ranks: CutMix's seed 1 failed
    assert "| MixUp | 79.75 ± 0.35 | 79.12 | +0.63 |" in (reports / "golden.md").read_text()


def test_a_reduced_scale_leaderboard_is_labelled_in_its_name_title_and_cells(
    project: Path, settings: Settings
) -> None:
    suite = fake_runs(project, settings, scale=0.5)
    md, _, figures = write_leaderboard(suite, settings)
    assert md.name == "golden-scale0.5.md" and figures[0].name == "golden-scale0.5-top1.png"
    text = md.read_text()
    assert text.startswith(
        "# Leaderboard: golden at reduced scale ×0.5 (not comparable with published numbers)"
    )
    assert "--scale 0.5" in text and "(800 ep; ran 400 at ×0.5)" in text
    assert "78.25 ± 0.35 (scale 0.5)" in text and suite_mod.expand(suite)[0].scale == 0.5
