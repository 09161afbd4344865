"""The value a released training log gives for a leaderboard cell, recomputed with the cell's reducer.

The official AdAutoMix code released its training logs (`results/published/logs/`, read by
`bench.published.logs`). For a cell whose (dataset, backbone, method, budget) has a released log,
the leaderboard shows the log's curve reduced exactly as our runs are (the cell's reducer and
network), beside the published value and ours: a check of the published number from data nobody
here wrote, available before any run.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from bench.report import comparable
from bench.report.collect import Cell, Column, column_of


@dataclass(frozen=True)
class ReleasedValue:
    value: float | None
    file: str  # the log's file inside its source
    source: str
    others: int = 0  # further logs of the same cell (their values are in the published table's notes)

    @property
    def text(self) -> str:
        return "—" if self.value is None else f"{self.value:.2f}"


def released_values(cells: list[Cell], published_dir: Path) -> dict[tuple[str, Column], ReleasedValue]:
    """(method label, column) -> the released log's value, for every cell with a log that records
    the cell's network ({} where this checkout has no released logs)."""
    if importlib.util.find_spec("bench.published.logs") is None:  # a checkout without released logs
        return {}
    from bench.published import logs as released

    folder = Path(published_dir) / "logs"
    found = released.load_logs(folder) if folder.is_dir() else []
    out = {}
    for cell in cells:
        method = (comparable.stands_for(cell.jobs[0]) if cell.jobs else cell.method_name) or cell.method_name
        key = (cell.dataset, cell.backbone, method, cell.epochs)
        reduced = released.reduce_for_cell(found, key, cell.reducer, cell.network)
        if reduced:
            log, value, _ = reduced[0]
            out[(cell.method, column_of(cell))] = ReleasedValue(value, log.file, log.source, len(reduced) - 1)
    return out
