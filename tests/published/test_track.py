"""Runs in progress against the released curve of their cell: the band, tested on the shipped curves."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from bench import records, safe_io, suite
from bench.cli import main
from bench.published import logs, track
from tests.conftest import write_suite

ROOT = Path(__file__).parent.parent.parent
SHIPPED = ROOT / "results" / "published" / "logs"


@pytest.fixture(scope="module")
def released() -> list[logs.ReleasedLog]:
    return [log for log in logs.load_logs(SHIPPED) if log.file.endswith(".json")]


def network(log: logs.ReleasedLog) -> str:
    return "ema|ema_mix" if "ema" in log.curves else "online"


def test_a_curve_against_itself_one_epoch_earlier_stays_inside_the_band(released) -> None:
    inside = total = 0
    for log in released:
        curve = track._curve(log, network(log))
        for epoch in range(max(2, log.epochs // 10), log.epochs + 1):
            total += 1
            inside += abs(curve[epoch - 1] - curve[epoch]) <= track.band(log, network(log), epoch)
    assert inside / total >= 0.98  # 99.1% on the 50 shipped .json logs


def test_a_curve_three_points_lower_is_caught(released) -> None:
    late = late_caught = early_caught = 0
    for log in released:
        for epoch in range(log.epochs // 2 + 1, log.epochs + 1):
            late += 1
            late_caught += track.band(log, network(log), epoch) < 3.0
        early_caught += track.band(log, network(log), log.epochs // 10) < 3.0
    assert late_caught / late >= 0.95  # 99.7% of the epochs of the second half
    assert early_caught >= 30  # 37 of the 50 logs already at a tenth of the budget


def history_from(log: logs.ReleasedLog, upto: int, offset: float = 0.0) -> list[dict]:
    rows = {}
    for name, curve in log.curves.items():
        for epoch, value in curve:
            if epoch <= upto:
                rows.setdefault(epoch, {"epoch": epoch, "test_top1": {}})["test_top1"][name] = value + offset
    return [rows[e] for e in sorted(rows)]


def paper_job(dataset: str, backbone: str, method: str):
    table1 = suite.load(ROOT / "suites" / "paper_table1.yaml")
    (job,) = [
        j for j in table1.jobs if (j.dataset, j.backbone, j.method, j.seed) == (dataset, backbone, method, 0)
    ]
    return job


def test_track_puts_a_run_beside_its_cells_log_at_the_same_epoch() -> None:
    job = paper_job("cifar100", "resnet18", "adautomix")
    shipped = logs.load_logs(SHIPPED)
    (log,) = [g for g in shipped if g.file == "experiments/CIFAR100/adautomix_r18_800e.json"]
    same = track.track(job, history_from(log, 80), shipped, "ema|ema_mix")
    assert same is not None and (same.epoch, same.status, same.delta) == (80, "on track", 0.0)
    assert same.log.endswith("adautomix_r18_800e.json") and same.released == max(
        dict(log.curves["ema"])[80], dict(log.curves["ema_mix"])[80]
    )
    low = track.track(job, history_from(log, 80, offset=-5.0), shipped, "ema|ema_mix")
    assert low is not None and low.status == "below" and "below" in low.text()
    # another schedule length (a reduced-scale run) has no reference; nor has a cell without a log
    scaled = replace(job, recipe=replace(job.recipe, epochs=80))
    assert track.track(scaled, history_from(log, 80), shipped, "ema|ema_mix") is None
    assert (
        track.track(
            paper_job("cifar100", "resnet18", "mixup"),
            [{"epoch": 1, "test_top1": {"online": 5.0}}],
            shipped,
            "online",
        )
        is None
    )


def test_status_and_compare_show_a_run_in_progress(project: Path, capsys: pytest.CaptureFixture) -> None:
    text = (ROOT / "suites" / "paper_table1.yaml").read_text()
    path = write_suite(project, text, "paper_table1.yaml")
    logs_dir = project / "results" / "published" / "logs"
    logs_dir.mkdir(parents=True)
    shipped = logs.load_logs(SHIPPED)
    (log,) = [g for g in shipped if g.file == "experiments/CIFAR100/adautomix_r18_800e.json"]
    logs.write_curves(log, logs_dir)
    job = paper_job("cifar100", "resnet18", "adautomix")
    run_dir = records.prepare(job, project / "results" / "runs")
    rows = history_from(log, 120, offset=-4.0)
    safe_io.write_text(run_dir / records.METRICS, "".join(json.dumps(r) + "\n" for r in rows))
    assert main(["status", str(path), "--only", "method=adautomix", "--only", "dataset=cifar100"]) == 0
    out = capsys.readouterr().out
    assert "vs released log" in out and "ep 120:" in out and "below" in out
    # the run is unfinished: the gate says incomplete (3), and shows where it stands
    assert main(["compare", str(path), "--only", "method=adautomix", "--only", "dataset=cifar100"]) == 3
    out = capsys.readouterr().out
    assert (
        "in progress: adautomix/cifar100/resnet18 seed 0: ep 120:" in out and "adautomix_r18_800e.json" in out
    )
