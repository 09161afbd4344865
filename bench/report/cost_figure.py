"""`<name>-cost.png`: top-1 against training cost, one panel per leaderboard column, Pareto front marked.

x is the cost (× Vanilla's training time, `bench.report.cost`: filled markers measured in the runs,
hollow ones estimated from `bench perf`), y our mean top-1 ± std over seeds. The Pareto front is the
set of complete cells no other complete cell beats on both axes (at most the cost and at least the
top-1, one of them strictly): the methods worth their compute in that column. Incomplete cells (a
failed, invalid or missing seed) are drawn grey and take no part in the front.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench import safe_io
from bench.report.collect import Cell, Column, column_of, columns
from bench.report.cost import Cost
from bench.report.names import column_name, row_name

DPI = 120


@dataclass(frozen=True)
class CostPoint:
    method: str  # the row's name
    cost: float
    measured: bool
    mean: float
    std: float | None
    complete: bool
    on_front: bool = False


@dataclass(frozen=True)
class CostPanel:
    title: str
    points: list[CostPoint]


def pareto_front(points: list[CostPoint]) -> set[str]:
    """Names of the complete points that no other complete point dominates."""
    pool = [p for p in points if p.complete]

    def dominated(p: CostPoint) -> bool:
        return any(
            q is not p and q.cost <= p.cost and q.mean >= p.mean and (q.cost < p.cost or q.mean > p.mean)
            for q in pool
        )

    return {p.method for p in pool if not dominated(p)}


def cost_panels(cells: list[Cell], costs: dict[tuple[str, Column], Cost]) -> list[CostPanel]:
    """One panel per column with at least one cell that has both a cost and a mean."""
    panels = []
    for column in columns(cells):
        points = []
        for cell in (c for c in cells if column_of(c) == column):
            cost = costs.get((cell.method, column))
            if cost is None or cost.ratio is None or cell.mean is None:
                continue
            name = row_name([c for c in cells if c.method == cell.method])
            points.append(
                CostPoint(name, cost.ratio, cost.measured, cell.mean, cell.std, not cell.incomplete)
            )
        if not points:
            continue
        front = pareto_front(points)
        points = [
            CostPoint(p.method, p.cost, p.measured, p.mean, p.std, p.complete, p.method in front)
            for p in points
        ]
        panels.append(CostPanel(column_name(column), points))
    return panels


def draw_cost(panels: list[CostPanel], title: str, path: Path) -> Path:
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    ncols = max(1, min(len(panels), 3))
    nrows = -(-len(panels) // ncols)
    fig = Figure(figsize=(max(7.5, 4.8 * ncols), 4.2 * nrows + 1.0), dpi=DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    names = list(dict.fromkeys(p.method for panel in panels for p in panel.points))
    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    colours = {m: cmap(i % cmap.N) for i, m in enumerate(names)}
    for ax, panel in zip(axes, panels):
        for p in panel.points:
            colour = colours[p.method] if p.complete else "0.6"
            face = colour if p.measured else "none"
            ax.errorbar(
                p.cost, p.mean, yerr=p.std or 0, fmt="o", mfc=face, mec=colour, ecolor=colour, ms=7, capsize=3
            )
            if p.on_front:
                ax.scatter(
                    p.cost, p.mean, s=220, facecolor="none", edgecolor="black", linewidths=1.2, zorder=4
                )
            ax.annotate(p.method, (p.cost, p.mean), textcoords="offset points", xytext=(6, 4), fontsize=8)
        front = sorted((p for p in panel.points if p.on_front), key=lambda p: p.cost)
        if len(front) > 1:
            ax.plot(
                [p.cost for p in front],
                [p.mean for p in front],
                ls="--",
                color="black",
                lw=1,
                drawstyle="steps-post",
            )
        xs = [p.cost for p in panel.points]
        pad = max(0.1, 0.15 * (max(xs) - min(xs)))
        ax.set_xlim(min(xs) - pad, max(xs) + 2.5 * pad)  # room for the labels on the right
        ax.set_title(panel.title, fontsize=10)
        ax.set_xlabel("training cost (× Vanilla)")
        ax.set_ylabel("top-1 (%)")
        ax.grid(alpha=0.3)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    handles = [
        Line2D([], [], marker="o", color="0.3", ls="none", label="measured in the runs"),
        Line2D([], [], marker="o", color="0.3", mfc="none", ls="none", label="≈ from bench perf"),
        Line2D([], [], marker="o", color="black", mfc="none", ms=14, ls="--", label="Pareto front"),
        Line2D([], [], marker="o", color="0.6", ls="none", label="incomplete (not on the front)"),
    ]
    fig.legend(
        handles=handles, loc="outside lower center", ncols=2 if ncols == 1 else 4, fontsize=8, frameon=False
    )
    fig.suptitle(f"{title}\ntop-1 against training cost", fontsize=11)
    safe_io.atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=DPI), mode="wb")
    return path


def write(
    cells: list[Cell], costs: dict[tuple[str, Column], Cost], out_dir: Path, name: str, *, title: str
) -> list[Path]:
    """`<name>-cost.png` when some cell has a cost and a value; [] otherwise."""
    panels = cost_panels(cells, costs)
    return [draw_cost(panels, title, out_dir / f"{name}-cost.png")] if panels else []
