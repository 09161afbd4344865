"""One lock per job folder, so that no job ever runs twice at the same time.

The process that runs a job (a local worker, a Slurm task, the inline executor) holds an
exclusive `flock` on `<run dir>/lock` for the job's whole lifetime. The kernel drops it when that
process ends, however it ends (kill -9 and out-of-memory kills included), so a lock is never left
behind; the file itself is never deleted (deleting lock files races with their next user).

Across machines (Slurm tasks on compute nodes, `bench status` on a login node), flock is only as
good as the shared filesystem: NFS forwards it to the server, Lustre only when mounted with
`-o flock`, and NFS mounted with `nolock` keeps it local without saying so. So the holder also
writes who it is (host, pid, start time) into the file and touches it every HEARTBEAT_SECONDS:
a lock file naming *another* host whose heartbeat is fresh counts as held even where flock
cannot see it. On its own host, flock alone decides (a stale heartbeat there just means the
holder died). The file is emptied on a clean release.

The lock file is opened without following links and must be a regular file (bench/safe_io.py):
a `lock` someone replaced by a link to another file is refused, never truncated.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench import records, safe_io

LOCK = records.LOCK
HEARTBEAT_SECONDS = 30.0
STALE_SECONDS = 3 * HEARTBEAT_SECONDS  # a foreign heartbeat older than this is a dead holder
# A `bench status` probe takes a shared lock for a few microseconds; retry so that it is never
# mistaken for a running job.
ACQUIRE_TRIES, ACQUIRE_PAUSE = 10, 0.02


@dataclass(frozen=True)
class Holder:
    """Who holds a job's lock, as written in the lock file (fields are empty if it was unreadable)."""

    pid: int | None
    host: str
    started: float | None
    heartbeat_age: float

    def describe(self) -> str:
        who = f"pid {self.pid} on {self.host}" if self.pid else "another process"
        since = time.strftime(" since %Y-%m-%d %H:%M", time.localtime(self.started)) if self.started else ""
        return who + since


def _owner(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}


def _held_elsewhere(owner: dict, mtime: float) -> bool:
    """The owner named in the file is another host whose heartbeat is still fresh."""
    return bool(owner) and owner.get("host") != socket.gethostname() and time.time() - mtime < STALE_SECONDS


def _alive_here(owner: dict) -> bool:
    """The owner named in the file is a live process on this host (used only where flock is missing)."""
    if not owner or owner.get("host") != socket.gethostname() or not owner.get("pid"):
        return False
    try:
        os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobLock:
    """The exclusive lock on one run folder; `acquire()` never blocks."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK
        self._fd: int | None = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def acquire(self) -> bool:
        """Take the lock if nobody holds it; False if another process does."""
        safe_io.make_folder(self.path.parent)
        fd = safe_io.open_in_place(self.path, os.O_RDWR | os.O_CREAT)
        have_flock = True
        for attempt in range(ACQUIRE_TRIES):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == ACQUIRE_TRIES - 1:
                    os.close(fd)
                    return False
                time.sleep(ACQUIRE_PAUSE)
            except OSError:  # this filesystem has no flock: the owner checks below are all there is
                have_flock = False
                break
        owner = _owner(fd)
        if _held_elsewhere(owner, os.fstat(fd).st_mtime) or (not have_flock and _alive_here(owner)):
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            return False
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        self._fd = fd
        self._stop.clear()
        self._beat = threading.Thread(target=self._heartbeat, name="bench-lock-heartbeat", daemon=True)
        self._beat.start()
        return True

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            with contextlib.suppress(OSError):
                os.utime(self.path)

    def release(self) -> None:
        if self._fd is None:
            return
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)  # empty: released cleanly, whatever flock can see
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def probe(run_dir: Path) -> Holder | None:
    """Who holds the job's lock, or None if nobody does. Cheap: one open, one read, one flock."""
    try:
        fd = os.open(Path(run_dir) / LOCK, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:  # absent; or a link or a folder, which `JobLock.acquire` refuses with a message
        return None
    try:
        owner = _owner(fd)
        mtime = os.fstat(fd).st_mtime
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            held: bool | None = False
        except BlockingIOError:
            held = True
        except OSError:
            held = None  # no flock on this filesystem
    finally:
        os.close(fd)
    if held is None:
        held = _alive_here(owner)
    if held or _held_elsewhere(owner, mtime):
        return Holder(
            pid=owner.get("pid"),
            host=owner.get("host", "?"),
            started=owner.get("started"),
            heartbeat_age=time.time() - mtime,
        )
    return None


def drop_result(folder: Path) -> None:
    """Delete an earlier attempt's result record so that the job runs again, under the folder's
    lock; a folder another process holds is left alone (its worker reports it as busy)."""
    lock = JobLock(folder)
    if lock.acquire():
        try:
            records.remove(folder, records.RESULT)
        finally:
            lock.release()
