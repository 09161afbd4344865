"""SIGTERM and SIGHUP stop `bench run` like Ctrl-C, and no worker trains on without its parent.

The suites here are long (200 epochs) so that a job is surely mid-training when the signal
arrives; none is trained to the end."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import locks, records, signals, suite
from bench.status import job_state
from tests.conftest import TINY_SUITE, write_suite

ROOT = Path(__file__).parent.parent.parent
LONG_SUITE = TINY_SUITE.replace("methods: [vanilla, mixup, cutmix]", "methods: [vanilla]").replace(
    "epochs: 2", "epochs: 200"
)
INTERRUPTED = "interrupted: finished epochs are checkpointed; run the same command again to resume"


def _start(project: Path) -> tuple[subprocess.Popen, Path]:
    """`bench run` on the long suite with the local executor; returns it and the job's folder once
    the worker has completed an epoch."""
    path = write_suite(project, LONG_SUITE, "long.yaml")
    (job,) = suite.expand(suite.load(path))
    run_dir = job.run_dir(project / "results" / "runs")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", "suites/long.yaml", "--executor", "local", "--workers", "1"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.time() + 240
    while records.count_metrics(run_dir) < 1:
        if time.time() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail(f"no epoch completed: {proc.communicate()}")
        time.sleep(0.05)
    return proc, run_dir


def _worker_pid(run_dir: Path) -> int:
    return int(json.loads((run_dir / locks.LOCK).read_text())["pid"])


def _gone(pid: int, seconds: float) -> bool:
    """The process has exited within `seconds` (a zombie its new parent has not reaped yet counts)."""
    deadline = time.time() + seconds
    while True:
        try:
            os.kill(pid, 0)
            status = Path(f"/proc/{pid}/status")
            if status.exists() and "\nState:\tZ" in status.read_text():
                return True
        except (ProcessLookupError, FileNotFoundError):
            return True
        if time.time() > deadline:
            return False
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_stops_bench_run_like_ctrl_c(project: Path, signum: int) -> None:
    proc, run_dir = _start(project)
    worker = _worker_pid(run_dir)
    try:
        proc.send_signal(signum)  # to `bench run` alone, as a scheduler or `kill` sends it
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + signum, (out, err)
    assert INTERRUPTED in err and "Traceback" not in out + err
    assert _gone(worker, 5)  # stopped and waited for by `bench run`
    assert locks.probe(run_dir) is None
    (job,) = suite.expand(suite.load(project / "suites" / "long.yaml"))
    state = job_state(job, project / "results" / "runs")
    assert state.state == "interrupted" and state.epochs >= 1  # the next run resumes after them
    assert not (run_dir / records.RESULT).exists()
    assert (run_dir / records.CHECKPOINT).is_file()
    assert INTERRUPTED in (run_dir / records.WORKER_LOG).read_text()  # the worker stopped cleanly too


def test_a_killed_bench_run_leaves_no_worker_training(project: Path) -> None:
    proc, run_dir = _start(project)
    worker = _worker_pid(run_dir)
    proc.kill()  # kill -9: nothing of `bench run` runs any more
    proc.communicate()
    try:
        assert _gone(worker, 30), "the worker outlived `bench run`"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker, signal.SIGKILL)
    assert locks.probe(run_dir) is None  # an immediate re-run would take the job, not skip it


ORPHAN = textwrap.dedent(
    """
    import os, sys, time
    sys.platform = "other"  # no prctl: only the portable watch of the parent's pid is left
    from bench import signals
    signals.PARENT_POLL_SECONDS = 0.1
    with signals.stop_like_ctrl_c():
        signals.die_with_parent()
        print("watching", flush=True)
        try:
            time.sleep(60)
        except signals.Stopped as stop:
            open(sys.argv[1], "w").write(str(stop.signum))
    """
)
PARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]], stdout=subprocess.PIPE, text=True)
    print(child.pid, child.stdout.readline().strip(), flush=True)
    time.sleep(60)
    """
)


def test_without_prctl_a_child_still_stops_when_its_parent_dies(tmp_path: Path) -> None:
    marker = tmp_path / "stopped"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(signals.PARENT_ENV, None)
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, ORPHAN, str(marker)], stdout=subprocess.PIPE, text=True, env=env
    )
    pid, word = parent.stdout.readline().split()
    assert word == "watching"
    parent.kill()
    parent.wait()
    assert _gone(int(pid), 10), "the child outlived its parent"
    assert marker.read_text() == str(int(signal.SIGTERM))  # it stopped through its SIGTERM handler


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_the_handlers_raise_like_ctrl_c_and_are_put_back(signum: int, code: int) -> None:
    before = signal.getsignal(signum)
    with pytest.raises(KeyboardInterrupt) as caught, signals.stop_like_ctrl_c():
        os.kill(os.getpid(), signum)
        time.sleep(5)  # the handler runs before this returns
    assert isinstance(caught.value, signals.Stopped) and signals.exit_code(caught.value) == code
    assert signal.getsignal(signum) is before
    assert signals.exit_code(KeyboardInterrupt()) == 130


@pytest.fixture
def interactive_sigint() -> Iterator[None]:
    """SIGINT as Python sets it in a terminal. A shell without job control starts background
    commands with SIGINT ignored, and Python keeps an ignored SIGINT ignored (so would bench)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.usefixtures("interactive_sigint")
def test_a_stop_while_records_are_written_waits_for_them(signum: int) -> None:
    written = []
    with pytest.raises(KeyboardInterrupt) as caught, signals.stop_like_ctrl_c():
        with signals.finish_writing():
            os.kill(os.getpid(), signum)
            time.sleep(0.2)  # the signal has arrived; the block goes on
            written.append("checkpoint")
        written.append("next epoch")  # never reached
    assert written == ["checkpoint"] and signals.exit_code(caught.value) == 128 + signum
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
