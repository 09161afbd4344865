"""Top-1 against training cost: the points drawn and the Pareto front."""

from __future__ import annotations

from pathlib import Path

from bench.report.cost import Cost
from bench.report.cost_figure import CostPoint, cost_panels, pareto_front, write
from tests.fixtures.cells import cell
from tests.report.test_plots import png_size

COLUMN = ("cifar100", "resnet18", 800)


def point(name: str, cost: float, mean: float, complete: bool = True) -> CostPoint:
    return CostPoint(name, cost, True, mean, None, complete)


def test_the_front_is_every_complete_point_no_other_beats_on_both_axes() -> None:
    points = [
        point("vanilla", 1.0, 78.0),
        point("mixup", 1.02, 79.0),
        point("cutmix", 1.02, 78.5),  # as costly as MixUp, less accurate
        point("puzzlemix", 2.3, 80.5),
        point("automix", 3.0, 80.5),  # as accurate as PuzzleMix, costlier
        point("adautomix", 3.5, 82.0),
        point("broken", 0.5, 99.0, complete=False),  # a failed seed: never on the front
    ]
    assert pareto_front(points) == {"vanilla", "mixup", "puzzlemix", "adautomix"}


def test_panels_and_the_png(tmp_path: Path) -> None:
    cells = [
        cell("vanilla", *COLUMN[:2], [78.0, 78.2]),
        cell("mixup", *COLUMN[:2], [79.0, 79.4]),
        cell("adautomix", *COLUMN[:2], [81.0], missing=[1]),
        cell("cutmix", *COLUMN[:2], []),  # not run: not drawn
    ]
    found = {
        ("vanilla", COLUMN): Cost(1.0, "runs"),
        ("mixup", COLUMN): Cost(1.03, "bench perf (perf.csv, Xeon)"),
        ("adautomix", COLUMN): Cost(3.2, "runs"),
        ("cutmix", COLUMN): Cost(1.01, "runs"),
    }
    (panel,) = cost_panels(cells, found)
    assert [(p.method, p.measured, p.complete, p.on_front) for p in panel.points] == [
        ("Vanilla", True, True, True),
        ("MixUp", False, True, True),
        ("AdAutoMix", True, False, False),
    ]
    (path,) = write(cells, found, tmp_path, "golden", title="Leaderboard: golden")
    assert path.name == "golden-cost.png" and path.stat().st_size > 10_000
    width, height = png_size(path)
    assert 600 <= width <= 2500 and 400 <= height <= 2000
    assert write(cells, {}, tmp_path, "none", title="t") == []  # no cost: no figure
