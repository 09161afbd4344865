"""The per-job lock: exclusive, released by death, visible to probes, heartbeat across hosts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import locks

HOLD = """
import sys, time
from bench.locks import JobLock
lock = JobLock(sys.argv[1])
print("acquired" if lock.acquire() else "busy", flush=True)
time.sleep(60)
"""


def hold_in_child(run_dir: Path) -> subprocess.Popen:
    """A separate process that takes the lock and keeps it until killed."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run_dir)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout.readline().strip() == "acquired"
    return child


def test_lock_is_exclusive_and_released_cleanly(tmp_path: Path) -> None:
    first, second = locks.JobLock(tmp_path), locks.JobLock(tmp_path)
    assert locks.probe(tmp_path) is None
    assert first.acquire()
    assert not second.acquire()  # another open file description: flock refuses it
    holder = locks.probe(tmp_path)
    assert holder is not None and holder.pid == os.getpid() and "since" in holder.describe()
    first.release()
    assert locks.probe(tmp_path) is None
    assert (tmp_path / locks.LOCK).read_text() == ""  # emptied on a clean release
    assert second.acquire()
    second.release()


def test_a_killed_holder_releases_the_lock(tmp_path: Path) -> None:
    child = hold_in_child(tmp_path)
    try:
        holder = locks.probe(tmp_path)
        assert holder is not None and holder.pid == child.pid
        assert not locks.JobLock(tmp_path).acquire()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    # the owner's note is still in the file (no clean release), but flock says nobody holds it
    assert json.loads((tmp_path / locks.LOCK).read_text())["pid"] == child.pid
    assert locks.probe(tmp_path) is None
    lock = locks.JobLock(tmp_path)
    assert lock.acquire()
    lock.release()


def test_a_fresh_heartbeat_from_another_host_counts_as_held(tmp_path: Path) -> None:
    """Where flock does not reach across machines, the owner's host and heartbeat decide."""
    lock_file = tmp_path / locks.LOCK
    lock_file.write_text(json.dumps({"pid": 4242, "host": "node-a17", "started": time.time()}))
    holder = locks.probe(tmp_path)
    assert holder is not None and holder.host == "node-a17"
    assert not locks.JobLock(tmp_path).acquire()
    stale = time.time() - locks.STALE_SECONDS - 1
    os.utime(lock_file, (stale, stale))
    assert locks.probe(tmp_path) is None  # that node died: its heartbeat stopped
    lock = locks.JobLock(tmp_path)
    assert lock.acquire()
    lock.release()


def test_the_heartbeat_touches_the_lock_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(locks, "HEARTBEAT_SECONDS", 0.05)
    lock = locks.JobLock(tmp_path)
    assert lock.acquire()
    old = time.time() - 100
    os.utime(tmp_path / locks.LOCK, (old, old))
    time.sleep(0.3)
    assert time.time() - (tmp_path / locks.LOCK).stat().st_mtime < 5
    lock.release()
