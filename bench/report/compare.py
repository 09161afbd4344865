"""`bench compare`: our cells against their published values, failing on regressions."""

from __future__ import annotations

from dataclasses import dataclass

from bench.report.collect import Cell


@dataclass(frozen=True)
class Comparison:
    cell: Cell
    regression: bool


def compare(cells: list[Cell], tolerance: float) -> tuple[list[Comparison], list[Cell]]:
    """(comparable cells with their verdict, cells with a published value that are not comparable).

    A comparable cell regresses when its mean is more than `tolerance` points below the
    published value.
    """
    compared, skipped = [], []
    for cell in cells:
        if cell.primary is None or cell.mean is None:
            continue
        if cell.not_comparable_reason:
            skipped.append(cell)
            continue
        compared.append(Comparison(cell, regression=cell.delta < -tolerance))
    return compared, skipped
