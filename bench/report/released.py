"""The value a released training log gives for a leaderboard cell, recomputed with the cell's reducer.

The official AdAutoMix code released its training logs (`results/published/logs/`, read by
`bench.published.logs`). For a cell whose (dataset, backbone, method, budget) has a released log,
the leaderboard shows the log's curve reduced exactly as our runs are (the cell's reducer and
network), beside the published value and ours: a check of the published number from data nobody
here wrote, available before any run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench import reducers
from bench.report import comparable
from bench.report.collect import Cell, Column, column_of


@dataclass(frozen=True)
class ReleasedValue:
    value: float | None  # None: the log lacks the network or an evaluation the reducer needs
    file: str  # the log's file name
    source: str
    why: str = ""  # why there is no value

    @property
    def text(self) -> str:
        return "—" if self.value is None else f"{self.value:.2f}"


def _load_logs(folder: Path) -> list:
    try:
        from bench.published.logs import load_logs
    except ImportError:  # the released logs are not packaged in this checkout
        return []
    return load_logs(folder) if folder.is_dir() else []


def released_values(cells: list[Cell], published_dir: Path) -> dict[tuple[str, Column], ReleasedValue]:
    """(method label, column) -> the released log's value for every cell that has a log."""
    logs = _load_logs(published_dir / "logs")
    out = {}
    for cell in cells:
        method = comparable.stands_for(cell.jobs[0]) if cell.jobs else cell.method_name
        for log in logs:
            if (log.dataset, log.backbone, log.method, log.epochs) != (
                cell.dataset,
                cell.backbone,
                method,
                cell.epochs,
            ):
                continue
            out[(cell.method, column_of(cell))] = reduce_log(log, cell.reducer, cell.network)
            break
    return out


def reduce_log(log: object, reducer: str, network: str) -> ReleasedValue:
    """The log's curves reduced by `reducer` over `network` (which may name alternatives 'a|b')."""
    try:
        value, _ = reducers.reduce_networks(log.curves, network, reducer, epochs=log.epochs)  # type: ignore[attr-defined]
    except (KeyError, ValueError) as exc:
        return ReleasedValue(None, log.file, log.source, str(exc))  # type: ignore[attr-defined]
    return ReleasedValue(value, log.file, log.source)  # type: ignore[attr-defined]
