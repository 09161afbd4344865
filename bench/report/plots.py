"""Figures for a leaderboard (PNG, matplotlib's Agg renderer), written beside its Markdown.

- `<name>-top1.png`: one panel per column (dataset, backbone, budget); each method's mean ± std
  over seeds, every seed as a dot, and the published value as a diamond (hollow grey where it is
  not comparable, e.g. at reduced scale).
- `<name>-curves.png`: test top-1 against epoch, one line per method (mean over seeds, band from
  the lowest to the highest seed), from `metrics.jsonl`, for the network the table reports.
- `<name>-delta.png`: a heat map of ours − published; only comparable cells are coloured, the
  others are hatched and say why (n/c, no pub., not run).

Each figure is drawn from plain data built by its own function (`top1_panels`, `curve_panels`,
`delta_grid`), so tests check what is drawn without reading pixels. Figures are made with
`matplotlib.figure.Figure` (no pyplot state), so the Agg renderer is used whatever the backend.
"""

from __future__ import annotations

import math
import statistics
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import safe_io
from bench.report.collect import Cell, Column, columns, rows
from bench.report.leaderboard import column_name, display_name, signed

DPI = 120
MIN_WIDTH = 7.5  # inches: room for the title and the legend when there is a single panel
ZOOM_ABOVE = 20  # curves with more evaluations than this get an inset on their last ones
ZOOM_MIN, ZOOM_FRACTION = 12, 0.1  # the inset shows max(12, 10%) evaluations: the reducers' window


@dataclass(frozen=True)
class Point:
    method: str
    mean: float | None
    std: float | None
    values: list[float]
    published: float | None
    comparable: bool  # the published value may be compared with ours


@dataclass(frozen=True)
class Panel:
    title: str
    points: list[Point]  # in table row order


@dataclass(frozen=True)
class Series:
    method: str
    network: str  # the network plotted ('ema/ema_mix' when seeds differ in which was larger)
    epochs: list[int]  # epochs evaluated in every seed
    mean: list[float]
    low: list[float]
    high: list[float]
    seeds: int


@dataclass(frozen=True)
class CurvePanel:
    title: str
    series: list[Series]


@dataclass(frozen=True)
class DeltaGrid:
    rows: list[str]
    columns: list[str]
    values: list[list[float | None]]  # ours − published where comparable, else None
    labels: list[list[str]]  # the text drawn in each cell


def _title(column: Column, cells: list[Cell], sep: str = "\n") -> str:
    first = next(c for c in cells if (c.dataset, c.backbone, c.epochs) == column)
    ran = f"; ran {first.epochs_run} at ×{first.scale:g}" if first.scale < 1 else ""
    return column_name(column, sep, ran)


def _by_column(cells: list[Cell]) -> list[tuple[Column, list[Cell]]]:
    order = rows(cells)
    out = []
    for col in columns(cells):
        here = [c for c in cells if (c.dataset, c.backbone, c.epochs) == col]
        out.append((col, sorted(here, key=lambda c: order.index(c.method))))
    return out


def top1_panels(cells: list[Cell]) -> list[Panel]:
    return [
        Panel(
            _title(col, cells, " "),
            [
                Point(
                    display_name(c),
                    c.mean,
                    c.std,
                    list(c.values),
                    c.primary.value if c.primary else None,
                    c.primary is not None and c.not_comparable_reason is None,
                )
                for c in here
            ],
        )
        for col, here in _by_column(cells)
    ]


def _series(cell: Cell) -> Series | None:
    if not cell.curves:
        return None
    by_epoch = [dict(curve) for curve in cell.curves]
    common = sorted(set.intersection(*(set(curve) for curve in by_epoch)))
    per_epoch = [[curve[e] for curve in by_epoch] for e in common]
    return Series(
        display_name(cell),
        "/".join(dict.fromkeys(cell.networks_used)),
        common,
        [statistics.fmean(v) for v in per_epoch],
        [min(v) for v in per_epoch],
        [max(v) for v in per_epoch],
        len(cell.curves),
    )


def curve_panels(cells: list[Cell]) -> list[CurvePanel]:
    return [
        CurvePanel(_title(col, cells, " "), [s for c in here if (s := _series(c)) is not None])
        for col, here in _by_column(cells)
    ]


def delta_grid(cells: list[Cell]) -> DeltaGrid:
    cols = columns(cells)
    by_key = {(c.method, c.dataset, c.backbone, c.epochs): c for c in cells}
    names, values, labels = [], [], []
    for method in rows(cells):
        names.append(display_name(next(c for c in cells if c.method == method)))
        value_row: list[float | None] = []
        label_row: list[str] = []
        for col in cols:
            cell = by_key.get((method, *col))
            if cell is None:
                value, label = None, ""
            elif cell.mean is None:
                value, label = None, "error" if cell.errors else "not run"
            elif cell.primary is None:
                value, label = None, "no pub."
            elif cell.not_comparable_reason:
                value, label = None, "n/c"
            else:
                value, label = cell.delta, signed(cell.delta)
            value_row.append(value)
            label_row.append(label)
        values.append(value_row)
        labels.append(label_row)
    return DeltaGrid(names, [_title(col, cells) for col in cols], values, labels)


# --- drawing ----------------------------------------------------------------------------------


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _suptitle(fig, text: str, width: float, size: float = 12) -> None:
    """A figure title wrapped to the figure's width (a character is about 0.55 em wide)."""
    chars = max(30, int(width * 130 / size))
    fig.suptitle("\n".join(textwrap.fill(line, chars) for line in text.split("\n")), fontsize=size)


def _grid(n: int, max_cols: int = 3) -> tuple[int, int]:
    ncols = max(1, min(n, max_cols))
    return math.ceil(max(n, 1) / ncols), ncols


def palette(methods: list[str]) -> dict[str, Any]:
    """One colour per method, by table row, shared by every figure of a leaderboard."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(methods) <= 10 else "tab20"]
    return {m: cmap(i % cmap.N) for i, m in enumerate(methods)}


def _label(s: Series) -> str:
    return s.method if s.network == "online" else f"{s.method} ({s.network})"


def _save(fig, path: Path) -> Path:
    safe_io.atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=DPI), mode="wb")
    return path


def draw_top1(panels: list[Panel], title: str, path: Path, colours: dict[str, Any] | None = None) -> Path:
    from matplotlib.lines import Line2D

    colours = colours or palette(list(dict.fromkeys(p.method for panel in panels for p in panel.points)))
    nrows, ncols = _grid(len(panels))
    methods = max((len(p.points) for p in panels), default=1)
    width = max(MIN_WIDTH, 4.8 * ncols)
    fig = _figure(width, (0.42 * methods + 1.3) * nrows + 1.1)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, panel in zip(axes, panels):
        ys = list(range(len(panel.points)))[::-1]  # first row on top, as in the table
        shown: list[float] = []
        for y, point in zip(ys, panel.points):
            colour = colours[point.method]
            if point.values:  # just below the mean, so the mean's marker does not hide them
                ax.scatter(
                    point.values, [y - 0.22] * len(point.values), s=12, color=colour, alpha=0.6, zorder=2
                )
            if point.mean is not None:
                ax.errorbar(
                    point.mean, y, xerr=point.std or 0, fmt="o", color=colour, ms=7, capsize=3, zorder=3
                )
                shown += [point.mean, *point.values]
            if point.published is not None:
                style = (
                    {"edgecolor": "black", "linewidths": 1.4}
                    if point.comparable
                    else {"edgecolor": "0.55", "linewidths": 1.0, "linestyle": "--"}
                )
                ax.scatter(point.published, y, marker="D", s=60, facecolor="none", zorder=4, **style)
                shown.append(point.published)
        ax.set_yticks(
            ys, [p.method if p.mean is not None else f"{p.method} (no result)" for p in panel.points]
        )
        ax.set_ylim(-0.7, len(panel.points) - 0.3)
        if shown:
            lo, hi = min(shown), max(shown)
            pad = max(0.5, 0.12 * (hi - lo))
            ax.set_xlim(lo - pad, hi + pad)
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel("top-1 (%)")
        ax.grid(axis="x", alpha=0.3)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    points = [p for panel in panels for p in panel.points]
    handles = [
        Line2D([], [], marker="o", color="0.3", ms=7, label="ours: mean ± std over seeds"),
        Line2D([], [], marker="o", color="0.3", ms=4, alpha=0.6, ls="none", label="ours: one seed (below)"),
    ]
    if any(p.published is not None and p.comparable for p in points):
        handles.append(
            Line2D([], [], marker="D", color="black", mfc="none", ms=7, ls="none", label="published")
        )
    if any(p.published is not None and not p.comparable for p in points):
        handles.append(
            Line2D(
                [],
                [],
                marker="D",
                color="0.55",
                mfc="none",
                ms=7,
                ls="none",
                label="published, not comparable",
            )
        )
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=len(handles) if ncols > 1 else 2,
        frameon=False,
        fontsize=9,
    )
    _suptitle(fig, title, width)
    return _save(fig, path)


def draw_curves(
    panels: list[CurvePanel], title: str, path: Path, colours: dict[str, Any] | None = None
) -> Path:
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    nrows, ncols = _grid(len(panels))
    width = max(MIN_WIDTH, 4.8 * ncols)
    fig = _figure(width, 3.4 * nrows + 1.2)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    colour = colours or palette(list(dict.fromkeys(s.method for p in panels for s in p.series)))
    labels: dict[str, str] = {}  # legend label -> method
    for ax, panel in zip(axes, panels):
        longest = max((len(s.epochs) for s in panel.series), default=0)
        zoom = ax.inset_axes([0.42, 0.06, 0.55, 0.46]) if longest > ZOOM_ABOVE else None
        window = max(ZOOM_MIN, math.ceil(ZOOM_FRACTION * longest))
        for s in panel.series:
            marker = "o" if len(s.epochs) <= 12 else None
            ax.plot(s.epochs, s.mean, color=colour[s.method], marker=marker, ms=3)
            labels.setdefault(_label(s), s.method)
            if s.seeds > 1:
                ax.fill_between(s.epochs, s.low, s.high, color=colour[s.method], alpha=0.15, lw=0)
            if zoom is not None:  # the last epochs, where the reported number comes from
                tail = slice(-window, None)
                zoom.plot(s.epochs[tail], s.mean[tail], color=colour[s.method], lw=1.2)
                if s.seeds > 1:
                    zoom.fill_between(
                        s.epochs[tail], s.low[tail], s.high[tail], color=colour[s.method], alpha=0.15, lw=0
                    )
        if zoom is not None:
            zoom.set_title(f"last {window} evaluations", fontsize=8)
            zoom.tick_params(labelsize=7)
            zoom.grid(alpha=0.3)
            zoom.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
        if not panel.series:
            ax.text(0.5, 0.5, "no finished run", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("test top-1 (%)")
        ax.grid(alpha=0.3)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    handles = [Line2D([], [], color=colour[m], label=label) for label, m in labels.items()]
    if handles:
        fig.legend(
            handles=handles, loc="outside lower center", ncols=min(len(handles), 5), frameon=False, fontsize=9
        )
    _suptitle(fig, f"{title}\nmean over seeds, band: lowest to highest seed", width)
    return _save(fig, path)


def draw_delta(grid: DeltaGrid, title: str, path: Path) -> Path:
    import numpy as np
    from matplotlib.patches import Rectangle

    nr, nc = len(grid.rows), len(grid.columns)
    width = max(MIN_WIDTH, 1.55 * nc + 3.2)
    fig = _figure(width, 0.5 * nr + 2.6)
    ax = fig.subplots()
    data = np.ma.masked_invalid(
        np.array([[np.nan if v is None else v for v in r] for r in grid.values], float)
    )
    coloured = [v for r in grid.values for v in r if v is not None]
    limit = max([0.5, *(abs(v) for v in coloured)])
    image = ax.imshow(data, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    for i in range(nr):
        for j in range(nc):
            label, value = grid.labels[i][j], grid.values[i][j]
            if value is None:
                ax.add_patch(
                    Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="0.93", edgecolor="0.75", hatch="///", lw=0)
                )
                ax.text(
                    j,
                    i,
                    label,
                    ha="center",
                    va="center",
                    fontsize=9,
                    color="0.3",
                    bbox={"facecolor": "0.93", "edgecolor": "none", "pad": 1} if label else None,
                )
            else:
                ax.text(
                    j,
                    i,
                    label,
                    ha="center",
                    va="center",
                    fontsize=10,
                    color="white" if abs(value) > 0.6 * limit else "black",
                )
    ax.set_xticks(range(nc), grid.columns, fontsize=9)
    ax.set_yticks(range(nr), grid.rows)
    ax.tick_params(which="both", length=0)
    ax.set_xticks([x - 0.5 for x in range(1, nc)], minor=True)
    ax.set_yticks([y - 0.5 for y in range(1, nr)], minor=True)
    ax.grid(which="minor", color="white", lw=2)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if coloured:
        fig.colorbar(image, ax=ax, label="ours − published (points)", shrink=0.9)
    note = "" if coloured else "\nno comparable cell: nothing is coloured"
    _suptitle(
        fig,
        f"{title}\nours − published; hatched: n/c = not comparable, no pub. = no published value{note}",
        width,
        size=11,
    )
    return _save(fig, path)


def write(cells: list[Cell], out_dir: Path, name: str, *, title: str) -> list[Path]:
    """Write the three figures beside `<name>.md`; returns their paths."""
    colours = palette([display_name(next(c for c in cells if c.method == m)) for m in rows(cells)])
    return [
        draw_top1(top1_panels(cells), title, out_dir / f"{name}-top1.png", colours),
        draw_curves(curve_panels(cells), title, out_dir / f"{name}-curves.png", colours),
        draw_delta(delta_grid(cells), title, out_dir / f"{name}-delta.png"),
    ]
