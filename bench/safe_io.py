"""Writing files in folders many people share: never through a symbolic link, never outside the
folder's root, never half a file, and a full disk named as such.

A results folder on a shared filesystem is written by several accounts and read by everyone, so
nothing the harness writes may follow a link someone left there: a `lock` or `log.txt` that is a
symlink to another file would otherwise truncate or append to that file. Every write goes through
this module:

* `atomic_write` (records, reports, caches): a temporary file made with O_EXCL beside the target,
  fsynced, then renamed over it. A rename replaces a link instead of following it, and the target
  must be absent or a regular file, so a crash or a full disk leaves the previous version intact.
* `open_in_place` (lock files, appended logs): O_NOFOLLOW and O_NONBLOCK (a FIFO cannot hang the
  open), then the opened file must be a regular file with one link (a hard link would let a write
  reach another name).
* `check_component` and `check_inside`: names that become path components are single safe words,
  and a built path stays under its root once links are resolved.

Errors are `UnsafePath` (the path and what is wrong with it) and `NoSpace` ("no space left on
<path>", for ENOSPC and EDQUOT, including the ones torch.save turns into a RuntimeError).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from bench.errors import BenchError

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
SAFE_NAME_RULE = (
    "a single path component: a letter or digit, then letters, digits, '_', '.', '+' or '-' "
    "(regex [A-Za-z0-9][A-Za-z0-9_.+-]*)"
)
FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class UnsafePath(BenchError):
    """A path the harness refuses to write: a link, not a regular file, or outside its root."""


class NoSpace(BenchError):
    """The filesystem (or the user's quota) is full."""

    def __init__(self, path: Path | str, cause: OSError | None = None) -> None:
        self.path = Path(path)
        what = "quota exceeded" if cause is not None and cause.errno == errno.EDQUOT else "no space left"
        super().__init__(f"{what} on {self.path} (free some space, then run the same command again)")


def is_full(exc: BaseException | None) -> bool:
    return isinstance(exc, OSError) and exc.errno in FULL_ERRNOS


def says_full(message: str | None) -> bool:
    """The error message is a `NoSpace` one (how a child process's result tells its parent)."""
    return str(message).startswith(("no space left on ", "quota exceeded on "))


def check_component(name: str, what: str) -> str:
    """`name` if it is one safe path component; else UnsafePath stating the rule."""
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):
        raise UnsafePath(
            f"{what} {name!r} is not a safe name: it becomes a folder or file name, so it must be {SAFE_NAME_RULE}"
        )
    return name


def check_inside(root: Path, path: Path) -> Path:
    """`path` if it stays under `root` once every link is resolved; else UnsafePath."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
        raise UnsafePath(f"{path} resolves to {real}, outside {root}; refusing to write there")
    return path


def check_writable_target(path: Path) -> None:
    """The file at `path` may be replaced: it is absent or a regular file (not a link, folder, FIFO)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise UnsafePath(
            f"{path} is {_kind(mode)}, not a regular file; bench writes only its own files there: remove it"
        )


def check_folder(folder: Path) -> None:
    """`folder` is a real directory, not a link to one (absent is fine: it will be created)."""
    try:
        mode = os.lstat(folder).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(mode):
        raise UnsafePath(
            f"{folder} is {_kind(mode)}, not a folder; bench writes only into real folders: remove it"
        )


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def make_folder(folder: Path) -> Path:
    """mkdir -p, refusing a link or a file where the folder should be."""
    check_folder(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        check_folder(folder)
        raise
    except OSError as exc:
        if is_full(exc):
            raise NoSpace(folder, exc) from None
        raise
    check_folder(folder)
    return folder


def open_in_place(path: Path, flags: int, mode: int = 0o644) -> int:
    """os.open for a file written in place (lock, appended log), never through a link.

    Returns a descriptor in blocking mode; raises UnsafePath naming `path` for a link, a FIFO, a
    device, a folder or a file with other hard links."""
    check_writable_target(path)
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):  # a link appeared between the check and the open
            raise UnsafePath(
                f"{path} is a symbolic link; bench does not write through links: remove it"
            ) from None
        if exc.errno == errno.ENXIO:  # a FIFO without a reader
            raise UnsafePath(f"{path} is a FIFO, not a regular file: remove it") from None
        if is_full(exc):
            raise NoSpace(path, exc) from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
        os.close(fd)
        what = (
            _kind(info.st_mode)
            if not stat.S_ISREG(info.st_mode)
            else f"a file with {info.st_nlink} hard links"
        )
        raise UnsafePath(f"{path} is {what}; bench writes only files it alone names: remove it")
    os.set_blocking(fd, True)
    return fd


def open_append(path: Path) -> IO[str]:
    """A line-buffered text file appended to in place (log.txt, worker.log), opened without following links."""
    fd = open_in_place(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    return os.fdopen(fd, "a", buffering=1, encoding="utf-8", errors="replace")


def append_binary(path: Path) -> IO[bytes]:
    """A binary file appended to in place (a child process's stdout), opened without following links."""
    fd = open_in_place(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    return os.fdopen(fd, "ab")


class _Recording:
    """A file object that remembers the OSError its `write` raised: torch.save reports a failed
    write as 'unexpected pos' (a RuntimeError), and this is how a full disk is still recognised."""

    def __init__(self, file: IO[Any]) -> None:
        self.file = file
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self.file.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.file, name)


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "w") -> None:
    """Call `write(file)` on a temporary file beside `path`, fsync it, then rename it over `path`.

    The target must be absent or a regular file and its folder a real folder (UnsafePath
    otherwise); a full disk raises NoSpace naming `path` and leaves the previous version intact."""
    path = Path(path)
    make_folder(path.parent)
    check_writable_target(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        if is_full(exc):
            raise NoSpace(path, exc) from None
        raise
    recording: _Recording | None = None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600 files; records should read like any other file
        text = {"encoding": "utf-8"} if "b" not in mode else {}
        with os.fdopen(fd, mode, **text) as f:
            recording = _Recording(f)
            write(recording)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        cause = exc if is_full(exc) else (recording.error if recording and is_full(recording.error) else None)
        if cause is not None:
            raise NoSpace(path, cause) from exc
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: Path, data: Any) -> None:
    atomic_write(path, lambda f: json.dump(data, f, indent=2, sort_keys=True, allow_nan=True))


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text))
