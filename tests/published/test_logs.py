"""Released logs: both OpenMixup formats parse into cells, settings and curves; shipped curves load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.errors import BenchError
from bench.published import logconfig, logs

FIXTURES = Path(__file__).parent.parent / "fixtures" / "released_logs"
CIFAR = FIXTURES / "experiments" / "CIFAR100"
SHIPPED = Path(__file__).parent.parent.parent / "results" / "published" / "logs"


def test_a_json_log_gives_its_cell_settings_and_curve() -> None:
    log = logs.read_log(CIFAR / "cutmix_r18_12e.json", file="experiments/CIFAR100/cutmix_r18_12e.json")
    assert log.cell == ("cifar100", "resnet18", "cutmix", 12)
    assert log.config == {
        "class": "MixUpClassification",
        "epochs": 12,
        "gpus": 1,
        "batch_size": 100,
        "optimizer": "sgd",
        "lr": 0.1,
        "weight_decay": 0.0001,
        "momentum": 0.9,
        "min_lr": 0,
        "pretrained": False,
        "alpha": 1,
    }
    assert list(log.curves) == ["online"] and log.curves["online"][:2] == [(1, 10.0), (2, 20.0)]
    # OpenMixup's median of the "last 10" epochs is the 11 of epochs >= 2; the last 10 give another number
    assert log.reduce("openmixup_median10", "online") == (60.0, "online")
    assert log.reduce("median_last10", "online") == (62.5, "online")


def test_a_text_log_gives_every_head_and_the_learned_settings() -> None:
    log = logs.read_log(CIFAR / "adautomix_r18_12e.log")
    assert log.cell == ("cifar100", "resnet18", "adautomix", 12)
    assert set(log.curves) == {"online", "online_mix", "ema", "ema_mix"}
    assert log.curves["ema"][-1] == (12, 83.0)
    for key, value in {
        "mix_samples": 3,
        "is_random": False,
        "beta": 0.3,
        "mixup_ratio": 0.5,
        "lam_margin": 0.03,
        "lam_concat": False,
        "upsample": "bilinear",
        "ema_start": 0.999,
        "ema_end": 0.999999,
        "ema_hold": 0.1,
        "min_lr": 0.05,
    }.items():
        assert log.config[key] == value, key
    # the online head's medians are the largest and better with 11 records than with 12, so the
    # window is 11 records: the EMA head reports 47, not the 50 of its own best window
    assert log.reduce("openmixup_automix10", "ema|ema_mix") == (47.0, "ema")
    assert log.reduce("openmixup_automix10", "online|online_mix") == (89.0, "online")
    assert log.at_epoch("ema|ema_mix", 12) == 83.0 and log.at_epoch("ema", 13) is None


def test_curve_files_round_trip_and_cite_their_source(tmp_path: Path) -> None:
    log = logs.read_log(
        CIFAR / "adautomix_r18_12e.log",
        file="experiments/CIFAR100/adautomix_r18_12e.log",
        source="repo",
        commit="abc",
    )
    path = logs.write_curves(log, tmp_path)
    assert path.name == "experiments__CIFAR100__adautomix_r18_12e.log.json"
    (loaded,) = logs.load_logs(tmp_path)
    assert loaded == log
    record = json.loads(path.read_text())
    assert (record["file"], record["source"], record["commit"]) == (log.file, "repo", "abc")


def test_malformed_logs_are_refused_with_the_file_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"config": "x = 1"}\n{not json\n')
    with pytest.raises(BenchError, match=r"bad\.json: line 2: not JSON"):
        logs.read_log(bad)
    bad.write_text('{"mode": "val", "epoch": 1, "head0_top1": 5.0}\n')
    with pytest.raises(BenchError, match="no record with 'config'"):
        logs.read_log(bad)
    text = tmp_path / "bad.log"
    text.write_text("2023-01-01 00:00:00,000 - openmixup - INFO - Epoch(val) [1][10]\thead0_top1: 5.0\n")
    with pytest.raises(BenchError, match="no 'Config:' section"):
        logs.read_log(text)
    with pytest.raises(BenchError, match="only literals"):
        logconfig.evaluate("x = open('f')", "cfg")
    (tmp_path / "curves").mkdir()
    (tmp_path / "curves" / "x.json").write_text('{"file": "x"}')
    with pytest.raises(BenchError, match="not a released-log curve file"):
        logs.load_logs(tmp_path / "curves")


def test_the_shipped_curves_cover_every_released_log() -> None:
    shipped = logs.load_logs(SHIPPED)
    assert len(shipped) == 59  # 50 .json and 9 text .log files of experiments/ @ 9d6fd12
    assert {log.commit for log in shipped} == {"9d6fd12f25e1cf21526843615d27cd5d2c6a0185"}
    assert all(log.file.startswith("experiments/") and log.source for log in shipped)
    learned = [log for log in shipped if log.method in ("automix", "adautomix")]
    assert all(set(log.curves) == {"online", "online_mix", "ema", "ema_mix"} for log in learned)
    assert all(len(c) == log.epochs for log in shipped for c in log.curves.values())  # every epoch evaluated
    # the two records of the CIFAR-100 ResNet-18 800-epoch run disagree inside the reducer's window
    text = next(log for log in shipped if log.file == "experiments/CIFAR100/adautomix_r18_800e.log")
    assert "ema at epochs 791, 792, 795, 796" in text.notes
