"""A released training log's value for a cell, reduced as our runs are."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bench.report.released import reduce_log, released_values
from tests.fixtures.cells import cell


@dataclass(frozen=True)
class Log:
    """The fields of `bench.published.logs.ReleasedLog` that the leaderboard reads."""

    curves: dict = field(default_factory=dict)
    epochs: int = 800
    file: str = "adautomix_r18_800e.log"
    source: str = "JinXins/Adversarial-AutoMixup experiments/"


def test_a_log_is_reduced_with_the_cells_reducer_and_network() -> None:
    ema = [(e, 80.0 + e / 100) for e in range(1, 801)]
    ema_mix = [(e, 79.0) for e in range(1, 801)]
    log = Log({"ema": ema, "ema_mix": ema_mix, "online": [(800, 70.0)]})
    value = reduce_log(log, "median_last10", "ema|ema_mix")
    assert value.value == pytest.approx(80.0 + 795.5 / 100) and value.text == f"{value.value:.2f}"
    missing = reduce_log(log, "median_last10", "online_mix")
    assert missing.value is None and "online_mix" in missing.why and missing.text == "—"


def test_without_released_logs_no_cell_has_a_log_value(tmp_path: Path) -> None:
    assert released_values([cell("adautomix", "cifar100", "resnet18", [81.0])], tmp_path) == {}
