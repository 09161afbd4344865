"""Reading the text files and folders of dataset releases, with errors that name the file and line."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from bench.data.base import IMAGE_EXTENSIONS, DataError

SHOW = 3  # examples quoted in an error about many items


def examples(items: Iterable[str], total: int | None = None) -> str:
    items = list(items)
    shown = ", ".join(items[:SHOW])
    more = (total if total is not None else len(items)) - min(len(items), SHOW)
    return shown + (f" and {more} more" if more > 0 else "")


def read_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, stripped line) for every non-blank line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: unreadable ({exc})") from None
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def read_pairs(path: Path, what: str) -> list[tuple[int, str, str]]:
    """Lines of '<key> <value>' (the value may contain spaces): (line number, key, value)."""
    out = []
    for n, line in read_lines(path):
        key, _, value = line.partition(" ")
        if not value.strip():
            raise DataError(f"{path}:{n}: expected '<{what}>', got {line!r}")
        out.append((n, key, value.strip()))
    return out


def read_id_table(path: Path, what: str) -> dict[int, tuple[int, str]]:
    """Lines of '<integer id> <value>' -> {id: (line number, value)}; duplicates are errors."""
    table: dict[int, tuple[int, str]] = {}
    for n, key, value in read_pairs(path, what):
        if not key.isdigit():
            raise DataError(f"{path}:{n}: expected '<{what}>' with an integer id, got {key!r}")
        if int(key) in table:
            raise DataError(f"{path}:{n}: image id {key} listed twice (first on line {table[int(key)][0]})")
        table[int(key)] = (n, value)
    return table


def list_images(folder: Path) -> list[str]:
    """Sorted names of the image files directly in `folder` (ImageFolder's extensions)."""
    try:
        with os.scandir(folder) as entries:
            return sorted(
                e.name for e in entries if e.name.lower().endswith(IMAGE_EXTENSIONS) and e.is_file()
            )
    except FileNotFoundError:
        raise DataError(f"{folder}: missing") from None
    except NotADirectoryError:
        raise DataError(f"{folder}: not a folder") from None


def subfolders(folder: Path) -> list[str]:
    """Sorted names of the folders directly in `folder`."""
    try:
        with os.scandir(folder) as entries:
            return sorted(e.name for e in entries if e.is_dir())
    except FileNotFoundError:
        raise DataError(f"{folder}: missing") from None


def check_listed_files(root: Path, relative: list[str], listed_in: Path, hint: str = "") -> None:
    """Every path listed in `listed_in` exists under `root`; else one error counting the missing."""
    missing = [p for p in relative if not (root / p).is_file()]
    if missing:
        raise DataError(
            f"{listed_in}: {len(missing)} of the {len(relative)} images it lists are missing under {root} "
            f"(e.g. {examples(missing)})" + (f"; {hint}" if hint else "")
        )
