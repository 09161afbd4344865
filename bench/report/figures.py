"""Saving figures: one drawing, written in every format asked for (PNG for a screen, PDF and SVG
for a paper), each file atomically. PNGs at 200 dpi, so that a figure printed at its own size
stays sharp; PDF and SVG keep text and lines as vectors and embed their fonts as TrueType, which
journals' checkers accept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

FORMATS = ("png", "pdf", "svg")
PNG_DPI = 200


def parse_formats(text: str) -> tuple[str, ...]:
    """`"png,pdf"` -> ("png", "pdf"), in the order given, without repeats."""
    asked = [part.strip().lower().lstrip(".") for part in text.split(",") if part.strip()]
    unknown = [f for f in asked if f not in FORMATS]
    if unknown or not asked:
        raise ValueError(
            f"unknown format {', '.join(map(repr, unknown)) or '(none)'}; valid: {', '.join(FORMATS)}"
        )
    return tuple(dict.fromkeys(asked))


def save(fig: Any, path: Path, formats: tuple[str, ...] = ("png",), dpi: float = PNG_DPI) -> list[Path]:
    """`fig` as `path` with each format's suffix (path's own suffix is replaced), each written
    atomically; the paths written."""
    from matplotlib import rc_context

    from bench.safe_io import atomic_write

    written = []
    for fmt in formats:
        target = path.with_suffix(f".{fmt}")
        # Type 42 (TrueType) fonts in PDF: editable text, and accepted where Type 3 fonts are not.
        with rc_context({"pdf.fonttype": 42}):
            atomic_write(target, lambda f, fmt=fmt: fig.savefig(f, format=fmt, dpi=dpi), mode="wb")
        written.append(target)
    return written
