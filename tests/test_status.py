"""`bench status`: every state read from the run folders; a job that raises is an error row with
its traceback in its log, and the other jobs finish."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bench import records, suite
from bench.cli import main
from bench.methods.mixup import MixUp
from bench.status import job_state
from tests.conftest import TINY_SUITE, write_suite
from tests.test_locks import hold_in_child


def test_a_job_that_raises_is_an_error_with_its_traceback_and_the_others_finish(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    def broken_sample(self, *args, **kwargs):
        raise RuntimeError("boom in sample")

    monkeypatch.setattr(MixUp, "sample", broken_sample)
    text = TINY_SUITE.replace("epochs: 2", "epochs: 1")
    write_suite(project, text, "tiny.yaml")
    assert main(["run", "suites/tiny.yaml"]) == 1
    jobs = {j.method: j for j in suite.expand(suite.load(project / "suites" / "tiny.yaml"))}
    runs = project / "results" / "runs"
    record = records.read_result(jobs["mixup"].run_dir(runs))
    assert record.status == "error" and record.error.startswith("RuntimeError: boom in sample")
    log = (jobs["mixup"].run_dir(runs) / records.LOG).read_text()
    assert "Traceback (most recent call last)" in log and "broken_sample" in log
    for method in ("vanilla", "cutmix"):
        assert records.read_result(jobs[method].run_dir(runs)).status == "ok"
    capsys.readouterr()

    assert main(["status", "suites/tiny.yaml"]) == 0
    output = capsys.readouterr().out
    assert "2 done, 1 error" in output and "RuntimeError: boom in sample" in output
    assert "mixup/s0-" in output and "log.txt" in output


def test_every_state_is_read_from_the_run_folders(project: Path, capsys: pytest.CaptureFixture) -> None:
    text = TINY_SUITE.replace("methods: [vanilla, mixup, cutmix]", "methods: [vanilla, mixup]")
    path = write_suite(project, text.replace("seeds: [0]", "seeds: [0, 1, 2]"), "tiny.yaml")
    jobs = {(j.method, j.seed): j for j in suite.expand(suite.load(path))}
    runs = project / "results" / "runs"

    def folder(method: str, seed: int) -> Path:
        run_dir = jobs[method, seed].run_dir(runs)
        run_dir.mkdir(parents=True, exist_ok=True)
        return run_dir

    done = records.Result(
        id=jobs["vanilla", 0].id,
        status="ok",
        primary_network="online",
        epochs_completed=2,
        metrics={"online": {"final": 41.5}},
    )
    records.write_metrics(
        folder("vanilla", 0),
        [
            records.MetricsRow(epoch=1, test_top1={"online": 30.0}),
            records.MetricsRow(epoch=2, test_top1={"online": 41.5}),
        ],
    )
    records.write_result(folder("vanilla", 0), done)
    records.write_result(
        folder("mixup", 0),
        records.Result(id=jobs["mixup", 0].id, status="error", error="loss became nan in epoch 1\nmore"),
    )
    records.write_metrics(folder("vanilla", 1), [records.MetricsRow(epoch=1)])
    records.write_submitted(folder("mixup", 1), {"job_id": "4242_3", "submitted": time.time()})
    child = hold_in_child(folder("vanilla", 2))
    try:
        states = {key: job_state(job, runs) for key, job in jobs.items()}
        assert main(["status", str(path)]) == 0
        output = capsys.readouterr().out
        assert main(["status", str(path), "--state", "error"]) == 0
        only_errors = capsys.readouterr().out
    finally:
        child.kill()
        child.wait()
    assert {key: s.state for key, s in states.items()} == {
        ("vanilla", 0): "done",
        ("mixup", 0): "error",
        ("vanilla", 1): "interrupted",
        ("mixup", 1): "queued",
        ("vanilla", 2): "running",
        ("mixup", 2): "pending",
    }
    assert states["vanilla", 0].detail == "final top-1 (online) 41.50"
    assert states["mixup", 0].detail == "loss became nan in epoch 1"
    assert states["vanilla", 1].epochs == 1
    assert "4242_3" in states["mixup", 1].detail
    assert f"pid {child.pid}" in states["vanilla", 2].detail
    assert "1 done, 1 running, 1 error, 1 queued, 1 interrupted, 1 pending" in output
    assert "loss became nan" in only_errors and "4242_3" not in only_errors
    assert job_state(jobs["vanilla", 2], runs).state == "pending"  # its holder died before doing anything
