"""Run folders: atomic writes of a job's records, and reading them back.

A run folder holds `spec.json` (what ran), `metrics.jsonl` (one line per evaluated epoch),
`result.json` (status, error, final metrics, versions) and `last.pt` (the checkpoint). Every
write goes to a temporary file in the same folder and is renamed into place, so a crash or a
full disk leaves the previous version intact, never a half-written file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

SPEC, METRICS, RESULT, CHECKPOINT, LOG = "spec.json", "metrics.jsonl", "result.json", "last.pt", "log.txt"


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "w") -> None:
    """Call `write(file)` on a temporary file beside `path`, fsync it, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600 files; records should read like any other file
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: Path, data: Any) -> None:
    atomic_write(path, lambda f: json.dump(data, f, indent=2, sort_keys=True, allow_nan=True))


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text))


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Rewrite a whole JSON-lines file atomically (each row one line)."""
    atomic_write(path, lambda f: f.writelines(json.dumps(r, sort_keys=True) + "\n" for r in rows))


def read_json(path: Path) -> Any | None:
    """The parsed file, or None if it is missing or unreadable (a partial write never lands, but
    a user may edit or truncate files by hand)."""
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return rows
    for line in lines:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a torn last line from an external edit: keep what precedes it
    return rows


def read_result(run_dir: Path) -> dict[str, Any] | None:
    return read_json(run_dir / RESULT)


def is_finished(run_dir: Path, job_id: str) -> bool:
    """True if the folder holds a successful result for exactly this job."""
    result = read_result(run_dir)
    return bool(result) and result.get("status") == "ok" and result.get("id") == job_id
