"""What a report's numbers can resolve, and what produced them.

A top-1 on a test set of N images moves in steps of 100 / N points: 0.01 on CIFAR's 10,000 images,
0.098 on a 1,024-image smoke set. Printing 0.01 precision for the latter claims a resolution the
number does not have, so each column is printed to the decimals its test set supports (at most
the published tables' 2): round(-log10(100 / N)), 2 for 10,000 images, 1 for 1,024. Where no run
recorded its test set, 2 decimals, and the notes say the size is unknown.

Each run's record names the machine (CPU, GPU), the torch build and the commit that produced it;
a report lists them, with how many runs each, since the same suite on another CPU gives other
numbers (within the seeds' spread) and only the same hardware and build give bit-identical ones.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

from bench.report.collect import Cell, Column, Provenance, column_of
from bench.report.names import short_name

MAX_DECIMALS = 2  # the published tables' precision
UNKNOWN_DECIMALS = 2


def decimals_for(test_images: int | None) -> int:
    """Decimals a top-1 (%) on `test_images` images supports: 2 for 10,000, 1 for 1,024."""
    if not test_images:
        return UNKNOWN_DECIMALS
    step = 100 / test_images
    return max(0, min(MAX_DECIMALS, round(-math.log10(step))))


def test_sizes(cells: Iterable[Cell]) -> set[int]:
    return {n for c in cells for n in c.test_images}


def decimals_of(cells: Iterable[Cell]) -> int:
    """Decimals for a group of cells (a column): those of its smallest recorded test set."""
    sizes = test_sizes(cells)
    return decimals_for(min(sizes)) if sizes else UNKNOWN_DECIMALS


def precision_note(cells: list[Cell], all_columns: list[Column]) -> str:
    """One sentence: each test set size (with its columns), its step and the decimals printed."""
    groups: dict[tuple[int, ...], list[Column]] = {}
    for column in all_columns:
        sizes = tuple(sorted(test_sizes(c for c in cells if column_of(c) == column)))
        groups.setdefault(sizes, []).append(column)
    parts = []
    for sizes, where in groups.items():
        which = "every column" if len(where) == len(all_columns) else "; ".join(map(short_name, where))
        if not sizes:
            parts.append(f"test set size not recorded ({which}): {UNKNOWN_DECIMALS} decimals")
            continue
        size, digits = sizes[0], decimals_for(sizes[0])
        other = f" (runs also read {', '.join(f'{s:,}' for s in sizes[1:])})" if len(sizes) > 1 else ""
        parts.append(
            f"{size:,} test images{other} ({which}): one image = {100 / size:.2g} points, "
            f"{digits} decimal{'s' if digits != 1 else ''}"
        )
    return "Precision: " + "; ".join(parts) + "."


def provenance_lines(cells: list[Cell]) -> list[str]:
    """'- 6 runs: Intel Xeon ..., no GPU; torch 2.14.1+cu130; commit abc1234' per distinct setup."""
    counts = Counter(m for c in cells for m in c.machines)
    lines = []
    for p, count in sorted(counts.items(), key=lambda item: -item[1]):
        build = f"torch {p.torch or 'unknown'}" + (f", CUDA {p.cuda}" if p.cuda else "")
        commit = f"commit {p.commit[:12]}" if p.commit else "commit not recorded"
        lines.append(f"- {count} run{'s' if count != 1 else ''}: {p.hardware}; {build}; {commit}")
    return lines


def machines(cells: list[Cell]) -> set[Provenance]:
    return {m for c in cells for m in c.machines}
