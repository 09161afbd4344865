"""Atomic writes: a disk that fills up mid-write leaves the previous record intact and says so."""

from __future__ import annotations

import errno
import io
import os
import tempfile
from pathlib import Path

import pytest

from bench import records, safe_io


class FillsUp(io.TextIOWrapper):
    """A text file on a disk with room for `room` more bytes: the write after that fails with ENOSPC."""

    room = 2000
    written_before_failing = 0

    def write(self, text: str) -> int:
        if self.buffer.tell() + len(text.encode()) > self.room:
            self.flush()
            FillsUp.written_before_failing = self.buffer.tell()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = super().write(text)
        self.flush()  # so that the partial file really is on disk
        return written


def _dev_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """The temporary file's descriptor is /dev/full: the kernel fails the write with ENOSPC."""
    real_mkstemp = tempfile.mkstemp

    def mkstemp_on_a_full_disk(*args, **kwargs):
        fd, name = real_mkstemp(*args, **kwargs)
        os.close(fd)
        return os.open("/dev/full", os.O_WRONLY), name

    monkeypatch.setattr(safe_io.tempfile, "mkstemp", mkstemp_on_a_full_disk)


def _fills_midway(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first 2,000 bytes reach the temporary file, then the disk is full."""
    monkeypatch.setattr(safe_io.os, "fdopen", lambda fd, mode, **kw: FillsUp(open(fd, "wb")))  # noqa: SIM115


@pytest.mark.parametrize("full_disk", [_fills_midway, _dev_full], ids=["midway", "dev-full"])
def test_disk_full_while_writing_a_record_keeps_the_previous_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, full_disk
) -> None:
    if full_disk is _dev_full and not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this OS; the midway case covers it")
    record = tmp_path / records.RESULT
    safe_io.write_json(record, {"status": "ok", "metrics": {"online": {"final": 71.5}}})
    before = record.read_bytes()
    full_disk(monkeypatch)
    with pytest.raises(safe_io.NoSpace) as caught:
        safe_io.write_json(record, {"status": "error", "error": "x" * 100_000, "epochs": list(range(400))})
    assert str(caught.value).startswith(f"no space left on {record}")
    assert isinstance(caught.value.__cause__, OSError) and caught.value.__cause__.errno == errno.ENOSPC
    if full_disk is _fills_midway:
        assert FillsUp.written_before_failing > 1000  # the temporary file was half written
    assert record.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [records.RESULT]  # no temporary file left
