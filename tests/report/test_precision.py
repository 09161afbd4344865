"""Decimals from the test set size, and what produced the runs."""

from __future__ import annotations

import pytest

from bench.report import leaderboard
from bench.report.collect import Provenance
from bench.report.precision import decimals_for, precision_note, provenance_lines
from tests.fixtures.cells import cell


@pytest.mark.parametrize(
    ("images", "decimals"),
    [
        (10_000, 2),
        (50_000, 2),
        (5_794, 2),
        (3_333, 2),
        (2_000, 1),
        (1_024, 1),
        (1_000, 1),
        (256, 0),
        (None, 2),
    ],
)
def test_decimals_follow_the_step_one_image_makes(images: int | None, decimals: int) -> None:
    assert decimals_for(images) == decimals


def test_a_1024_image_column_prints_one_decimal_and_says_why() -> None:
    cells = [
        cell("vanilla", "synthetic", "tiny_resnet", [51.66, 53.12], test_images=[1024, 1024]),
        cell("mixup", "synthetic", "tiny_resnet", [43.85, 43.85], test_images=[1024, 1024]),
    ]
    text = leaderboard.markdown(cells, title="t", source_note="")
    assert "| Vanilla | **52.4 ± 1.0** |" in text and "| MixUp | 43.9 ± 0.0 |" in text
    assert precision_note(cells, [("synthetic", "tiny_resnet", 800)]) == (
        "Precision: 1,024 test images (every column): one image = 0.098 points, 1 decimal."
    )


def test_provenance_lists_each_machine_build_and_commit_with_its_runs() -> None:
    xeon = Provenance("Intel Xeon", None, "2.14.1+cu130", None, "0123456789abcdef0")
    h100 = Provenance("AMD EPYC", "NVIDIA H100 80GB HBM3", "2.14.1+cu130", "13.0", "fedcba9876543210")
    a, b = (
        cell("vanilla", "cifar100", "resnet18", [78.0, 78.2]),
        cell("mixup", "cifar100", "resnet18", [80.0]),
    )
    a.machines, b.machines = [xeon, xeon], [h100]
    assert provenance_lines([a, b]) == [
        "- 2 runs: Intel Xeon, no GPU; torch 2.14.1+cu130; commit 0123456789ab",
        "- 1 run: NVIDIA H100 80GB HBM3 (host AMD EPYC); torch 2.14.1+cu130, CUDA 13.0; commit fedcba987654",
    ]
    assert Provenance(torch="2.1").hardware == "hardware not recorded"
    assert "- 2 runs: Intel Xeon" in leaderboard.markdown([a, b], title="t", source_note="")
