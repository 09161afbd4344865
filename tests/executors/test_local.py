"""The local executor: packing jobs onto GPUs by their GPU count, refusing jobs that cannot fit,
surviving a killed worker, and sharing a suite with another `bench run` without running a job twice."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from bench import locks, records, suite
from bench.cli import main
from bench.executors.local import Pool
from bench.settings import Settings
from bench.train import run_job
from tests.conftest import TINY_SUITE, write_suite

ROOT = Path(__file__).parent.parent.parent


def test_one_gpu_jobs_pack_onto_partly_used_gpus_and_big_jobs_take_whole_ones() -> None:
    pool = Pool(gpus=["0", "1", "2", "3"], jobs_per_gpu=2, cpu_slots=0, threads=0)
    first, second = pool.take(1), pool.take(1)
    assert first.gpus == second.gpus == ["0"]  # the second one-GPU job fills GPU 0 first
    assert first.env["CUDA_VISIBLE_DEVICES"] == "0"
    four = pool.take(4)
    assert four is None  # GPU 0 is in use: only three whole GPUs are left
    two = pool.take(2)
    assert two.gpus == ["1", "2"] and two.env["CUDA_VISIBLE_DEVICES"] == "1,2"
    third = pool.take(1)
    assert third.gpus == ["3"]
    pool.give_back(first)
    pool.give_back(second)
    assert pool.take(2) is None  # GPU 3 is half used
    pool.give_back(third)
    assert pool.take(2).gpus == ["0", "3"]


def test_without_a_gpu_a_job_takes_one_cpu_slot_per_process() -> None:
    pool = Pool(gpus=[], jobs_per_gpu=1, cpu_slots=3, threads=1)
    two = pool.take(2)
    assert two.cpu_slots == 2 and two.env == {"CUDA_VISIBLE_DEVICES": "", "BENCH_THREADS": "1"}
    assert pool.take(2) is None and pool.take(1) is not None
    pool.give_back(two)
    assert pool.take(2) is not None


@pytest.mark.parametrize(
    ("visible", "workers", "expected"),
    [
        ("0,1", "2", ["asks for 4", "only 2 GPUs are visible (CUDA_VISIBLE_DEVICES=0,1)"]),
        (None, "3", ["asks for 4", "only 3 CPU worker slots"]),
    ],
)
def test_a_job_needing_more_gpus_than_the_machine_has_is_rejected_before_anything_starts(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    visible: str | None,
    workers: str,
    expected: list[str],
) -> None:
    if visible is None:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    write_suite(project, TINY_SUITE + "resources: {gpus: 4}\n", "big.yaml")
    assert main(["run", "suites/big.yaml", "--executor", "local", "--workers", workers]) == 2
    err = capsys.readouterr().err
    for words in expected:
        assert words in err, err
    assert "3 job(s)" in err and "Traceback" not in err
    assert not (project / "results").exists()


def _bench(project: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "bench", "run", *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _wait_for(condition, seconds: float = 180.0, what: str = "") -> None:
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_worker_killed_mid_epoch_leaves_an_error_and_the_rerun_resumes_exactly(project: Path) -> None:
    text = TINY_SUITE.replace("epochs: 2", "epochs: 6").replace(
        "[vanilla, mixup, cutmix]", "[mixup, vanilla]"
    )
    path = write_suite(project, text, "long.yaml")
    victim, other = suite.expand(suite.load(path))
    run_dir = victim.run_dir(project / "results" / "runs")
    proc = _bench(project, str(path), "--executor", "local", "--workers", "1")
    try:
        _wait_for(lambda: (run_dir / records.CHECKPOINT).exists(), what="the first checkpoint")
        worker_pid = json.loads((run_dir / locks.LOCK).read_text())["pid"]
        os.kill(worker_pid, signal.SIGKILL)  # mid-epoch: the epoch after the checkpoint has begun
        output, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 1, output
    record = records.read_result(run_dir)
    assert record.status == "error" and "its worker was killed by SIGKILL after epoch" in record.error
    killed_after = len(records.read_metrics(run_dir)[0])
    assert 1 <= killed_after < 6
    assert records.read_result(other.run_dir(project / "results" / "runs")).status == "ok"  # went on

    rerun = _bench(project, str(path), "--executor", "local", "--workers", "1")
    output, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, output
    assert "1 already finished, 1 run" in output
    assert f"resuming after epoch {killed_after}" in (run_dir / records.LOG).read_text()
    record = records.read_result(run_dir)
    assert record.status == "ok" and record.epochs_completed == 6

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the worker (threads_per_job = 1): same arithmetic, same numbers
    try:
        reference = Settings(base_dir=str(project / "reference"))
        assert run_job(victim, reference).status == "ok"
    finally:
        torch.set_num_threads(threads)

    def curve(directory: Path) -> list[dict]:
        rows = records.read_metrics(directory)[0]
        return [{k: v for k, v in r.to_dict().items() if "seconds" not in k} for r in rows]

    assert curve(run_dir) == curve(victim.run_dir(reference.runs_root))


def test_two_bench_runs_on_one_suite_never_run_a_job_twice(project: Path) -> None:
    text = TINY_SUITE.replace("[vanilla, mixup, cutmix]", "[vanilla, mixup]").replace(
        "seeds: [0]", "seeds: [0, 1]"
    )
    path = write_suite(project, text, "shared.yaml")
    jobs = suite.expand(suite.load(path))
    first = _bench(project, str(path), "--executor", "inline")
    second = _bench(project, str(path), "--executor", "local", "--workers", "1")
    outputs = [p.communicate(timeout=600)[0] for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    ran = [int(re.search(r"(\d+) run in", out).group(1)) for out in outputs]
    assert sum(ran) == len(jobs), outputs  # every job trained by exactly one of them
    found_done = [int(re.search(r"(\d+) already finished", out).group(1)) for out in outputs]
    assert any("skipped" in out for out in outputs) or sum(found_done) > 0, outputs  # they did overlap
    for job in jobs:
        run_dir = job.run_dir(project / "results" / "runs")
        log = (run_dir / records.LOG).read_text()
        assert log.count(" steps per epoch") == 1, log  # one start, no second training
        record = records.read_result(run_dir)
        assert record.status == "ok" and record.epochs_completed == 2
        assert [r.epoch for r in records.read_metrics(run_dir)[0]] == [1, 2]
