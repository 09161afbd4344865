"""What each method costs to train, as a multiple of Vanilla's training time in the same column.

Measured in the runs themselves where they allow it: each run records its training seconds
(`train_seconds`, without evaluation) and the images it read, so a seed's cost is seconds per
training image seen, and a cell's cost is its mean over seeds divided by Vanilla's, both measured
on the same hardware (a ratio across machines would measure the machines). Otherwise, from the
step ratios `bench perf` measured (`reports/perf-*.csv`, the step's median over Vanilla's, for the
cell's backbone and image size): an estimate without data loading or evaluation, marked ≈.

On a machine shared with other jobs (the local executor's parallel slots, other users) measured
times carry that load; `bench perf` interleaves its methods so they share it.
"""

from __future__ import annotations

import csv
import statistics
from dataclasses import dataclass
from pathlib import Path

from bench.report.collect import Cell, Column, column_of, columns, rows
from bench.report.names import row_name, short_name

VANILLA = "vanilla"


@dataclass(frozen=True)
class Cost:
    ratio: float | None  # × vanilla's training time (per training image seen)
    source: str  # "runs", "bench perf (<file>)", or "" when there is none
    why: str = ""  # why there is no measured ratio (and where the estimate came from)

    @property
    def measured(self) -> bool:
        return self.source in ("runs", "definition")  # vanilla is 1× by definition

    @property
    def text(self) -> str:
        if self.ratio is None:
            return "—"
        return f"{self.ratio:.2f}×" if self.measured else f"≈{self.ratio:.2f}×"


@dataclass(frozen=True)
class PerfRatio:
    method: str
    backbone: str
    image_size: int
    ratio: float
    file: str
    hardware: str


def perf_ratios(reports_dir: Path) -> list[PerfRatio]:
    """Every step ratio in `reports_dir/perf-*.csv` (files in name order), skipping failed rows."""
    out = []
    for path in sorted(reports_dir.glob("perf-*.csv")):
        try:
            with path.open(newline="") as f:
                for row in csv.DictReader(f):
                    if row.get("kind") != "step" or row.get("status") != "ok" or not row.get("vs_vanilla"):
                        continue
                    out.append(
                        PerfRatio(
                            row["method"],
                            row["backbone"],
                            int(row["image_size"]),
                            float(row["vs_vanilla"]),
                            path.name,
                            row.get("hardware", ""),
                        )
                    )
        except (OSError, KeyError, ValueError):
            continue  # a file from another version of bench perf: not a source of ratios
    return out


def _per_image(cell: Cell) -> float | None:
    """Mean training seconds per image seen over the cell's seeds (None if any seed lacks them)."""
    pairs = list(zip(cell.train_seconds, cell.images_seen))
    if not pairs or any(s is None or not n for s, n in pairs):
        return None
    return statistics.fmean(s / n for s, n in pairs)  # type: ignore[operator]


def _hardware(cell: Cell) -> set[str]:
    return {m.hardware for m in cell.machines}


def _measured(cell: Cell, vanilla: Cell | None) -> tuple[float | None, str]:
    if vanilla is None:
        return None, "no Vanilla row in this column"
    mine, theirs = _per_image(cell), _per_image(vanilla)
    if mine is None or theirs is None:
        return None, "no recorded training time"
    if any(m.cpu is None and m.gpu is None for m in [*cell.machines, *vanilla.machines]):
        return None, "the runs do not record their hardware"
    if len(_hardware(cell) | _hardware(vanilla)) != 1:
        return None, "its runs and Vanilla's ran on other hardware"
    return mine / theirs, ""


def _estimated(cell: Cell, ratios: list[PerfRatio]) -> PerfRatio | None:
    image_size = cell.jobs[0].recipe.image_size if cell.jobs else None
    for r in ratios:
        if (r.method, r.backbone, r.image_size) == (cell.method_name, cell.backbone, image_size):
            return r
    return None


def costs(cells: list[Cell], ratios: list[PerfRatio]) -> dict[tuple[str, Column], Cost]:
    """(method label, column) -> its cost, measured where possible, else from bench perf."""
    out = {}
    for column in columns(cells):
        here = [c for c in cells if column_of(c) == column]
        vanilla = next((c for c in here if c.method == VANILLA), None)
        for cell in here:
            if cell.method == VANILLA and cell.method_name == VANILLA:
                out[(cell.method, column)] = Cost(1.0, "runs" if _per_image(cell) else "definition")
                continue
            ratio, why = _measured(cell, vanilla)
            if ratio is not None:
                out[(cell.method, column)] = Cost(ratio, "runs")
                continue
            estimate = _estimated(cell, ratios)
            if estimate is not None:
                where = f"bench perf ({estimate.file}, {estimate.hardware})"
                out[(cell.method, column)] = Cost(estimate.ratio, where, why)
            else:
                out[(cell.method, column)] = Cost(None, "", why)
    return out


def cost_table(cells: list[Cell], found: dict[tuple[str, Column], Cost]) -> list[str]:
    """The Markdown cost table: the leaderboard's rows and columns, one ratio each."""
    all_columns = columns(cells)
    lines = [
        "Training cost, × Vanilla's training time per training image in the same column: measured in "
        "the runs (their recorded training seconds, same hardware as Vanilla's runs), or ≈ from "
        "`bench perf`'s step ratio for the backbone and image size (no data loading, no evaluation) "
        "where the runs cannot give it.",
        "",
        "| Method | " + " | ".join(short_name(c) for c in all_columns) + " |",
        "|---|" + "---|" * len(all_columns),
    ]
    for method in rows(cells):
        mine = [c for c in cells if c.method == method]
        texts = [found[(method, col)].text if (method, col) in found else "" for col in all_columns]
        lines.append(f"| {row_name(mine)} | " + " | ".join(texts) + " |")
    sources = sorted({c.source for c in found.values() if c.source.startswith("bench perf")})
    if sources:
        lines += ["", "≈ from " + "; ".join(sources) + "."]
    return lines
