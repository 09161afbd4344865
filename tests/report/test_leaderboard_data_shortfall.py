"""Runs that read fewer images than the release has (an incomplete copy, or a stand-in written in the
release's format) are labelled as such in the leaderboard and never compared with published values."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from bench import suite
from bench.report import leaderboard
from bench.report.collect import shortfall
from tests.conftest import write_suite
from tests.fixtures.cells import cell, pub

CIFAR = """
name: c100
axes: {methods: [vanilla], backbones: [tiny_resnet], datasets: [cifar100], seeds: [0]}
recipe: {epochs: 800}
"""


def test_shortfall_compares_the_images_read_with_the_release_at_the_jobs_fractions(project: Path) -> None:
    s = suite.load(write_suite(project, CIFAR, "c100.yaml"))
    (full,) = s.jobs
    assert shortfall(full, {"train": 50_000, "test": 10_000}) == ""
    assert shortfall(full, {}) == ""  # records written before images were recorded
    assert shortfall(full, {"train": 5_000, "test": 10_000}) == "5,000 of 50,000 train images"
    (scaled,) = s.with_scale(0.01).jobs  # 1% of each split: 500 and 100 of the release
    assert shortfall(scaled, {"train": 500, "test": 100}) == ""
    assert shortfall(scaled, {"train": 50, "test": 10}) == "50 of 500 train images, 10 of 100 test images"


def test_the_leaderboard_says_the_data_is_not_the_release_and_gives_no_delta() -> None:
    short = "5,000 of 50,000 train images, 1,000 of 10,000 test images"
    cells = [
        cell("vanilla", "cifar100", "resnet18", [1.2], [pub(78.04, "Paper A")], partial_data=short),
        cell("mixup", "cifar100", "resnet18", [1.0], [pub(79.12, "Paper A")], partial_data=short),
    ]
    text = leaderboard.markdown(cells, title="T", source_note="")
    assert (
        "> **Not the full dataset**: the runs read fewer images than the full release gives: 5,000 of "
        "50,000 train images, 1,000 of 10,000 test images (CIFAR-100 · ResNet-18 · 800 ep). The data on "
        "disk is an incomplete copy of the release, or a stand-in for it" in text
    )
    assert "| Vanilla | **1.20** | 78.04 | n/c [1] |" in text
    assert f"[1] not comparable: the data on disk is not the full release ({short})." in text
    row = next(csv.DictReader(io.StringIO(leaderboard.csv_text(cells))))
    assert (row["comparable"], row["delta"], row["data_shortfall"]) == ("False", "", short)
    assert row["reason"] == f"the data on disk is not the full release ({short})"
