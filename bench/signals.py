"""SIGTERM and SIGHUP stop bench like Ctrl-C does, and no child process outlives the one that owns it.

Schedulers and shells end processes with SIGTERM (a job's time limit, `kill`, a closed SSH
session's SIGHUP). `stop_like_ctrl_c()` makes both raise `Stopped`, a KeyboardInterrupt, so every
`finally` that releases a lock, stops the workers and keeps the last checkpoint runs exactly as
for Ctrl-C; the command prints the same message and exits with 128 + the signal's number (130
for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP), the shell's convention for a process a signal ended.

A worker must not train on when the `bench run` that started it is gone (it would hold the
job's lock, and the next run would skip the job as running elsewhere). `die_with_parent()` asks
Linux to send the child a signal when its parent dies (PR_SET_PDEATHSIG), and on every system
also watches the parent's pid from a thread, which covers other systems and the moment between
the fork and the prctl.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

HANDLED = (signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1
PARENT_POLL_SECONDS = 1.0
PARENT_ENV = "BENCH_PARENT_PID"  # the pid a child should die with (set by whoever starts it)


class Stopped(KeyboardInterrupt):
    """A SIGTERM or SIGHUP, raised where the program was, like Ctrl-C's KeyboardInterrupt."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise(signum: int, frame: FrameType | None) -> None:
    for sig in HANDLED:  # one stop is enough: a second signal must not interrupt the cleanup
        signal.signal(sig, signal.SIG_IGN)
    raise Stopped(signum)


@contextlib.contextmanager
def stop_like_ctrl_c() -> Iterator[None]:
    """Inside, SIGTERM and SIGHUP raise `Stopped` in the main thread (nothing changes outside it);
    the previous handlers come back on leaving."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in HANDLED}
    for sig in HANDLED:
        signal.signal(sig, _raise)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """128 + the signal's number: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + getattr(interrupt, "signum", signal.SIGINT)


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Receive `sig` when the parent process dies (see the module's docstring).

    The parent is the pid in BENCH_PARENT_PID (set by the process that started this one), or the
    current parent. If it is already gone, `sig` is sent at once."""
    parent = int(os.environ.get(PARENT_ENV) or os.getppid())
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig))
    if os.getppid() != parent:  # died before the prctl took effect
        os.kill(os.getpid(), sig)
        return
    watcher = threading.Thread(target=_watch, args=(parent, sig), name="bench-parent-watch", daemon=True)
    watcher.start()


def _watch(parent: int, sig: int) -> None:
    stop = threading.Event()
    while not stop.wait(PARENT_POLL_SECONDS):
        if os.getppid() != parent:  # re-parented: the parent died
            os.kill(os.getpid(), sig)
            return
