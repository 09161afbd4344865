"""The released-log column: each cell's log reduced with the cell's reducer and network."""

from __future__ import annotations

import importlib.machinery
import sys
import types
from pathlib import Path

import pytest

from bench.report.released import ReleasedValue, released_values
from tests.fixtures.cells import cell


def test_each_cell_gets_its_logs_value_reduced_as_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against the interface of bench.published.logs (load_logs, reduce_for_cell)."""
    (tmp_path / "logs").mkdir()
    asked = []

    def reduce_for_cell(logs, key, reducer, network):
        asked.append((key, reducer, network))
        log = types.SimpleNamespace(file="experiments/CIFAR100/adautomix_r18_800e.json", source="AA @9d6fd12")
        return [(log, 82.29, "ema")] if key[2] == "adautomix" else []

    fake = types.ModuleType("bench.published.logs")
    fake.__spec__ = importlib.machinery.ModuleSpec("bench.published.logs", None)
    fake.load_logs, fake.reduce_for_cell = (lambda folder: ["a log"]), reduce_for_cell
    monkeypatch.setitem(sys.modules, "bench.published.logs", fake)
    monkeypatch.setattr(sys.modules["bench.published"], "logs", fake, raising=False)
    cells = [
        cell("adautomix", "cifar100", "resnet18", [81.0], reducer="openmixup_automix10"),
        cell("mixup", "cifar100", "resnet18", [80.0]),
    ]
    found = released_values(cells, tmp_path)
    assert found == {
        ("adautomix", ("cifar100", "resnet18", 800)): ReleasedValue(
            82.29, "experiments/CIFAR100/adautomix_r18_800e.json", "AA @9d6fd12"
        )
    }
    assert asked[0] == (("cifar100", "resnet18", "adautomix", 800), "openmixup_automix10", "ema|ema_mix")
    assert found[("adautomix", ("cifar100", "resnet18", 800))].text == "82.29"
