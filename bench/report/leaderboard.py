"""Render cells as a leaderboard in the shape of the AdAutoMix paper's tables, in Markdown and CSV.

Rows are methods in the suite's order: its methods axis, then any method that only `include`
adds. A suite written for a paper table lists its methods in the paper's row order, so the table
keeps it. Columns are grouped by dataset, then by backbone and training budget, in the order the
suite lists them. Markdown has no column spans, so the group's first header cell names both levels
("CIFAR-100<br>ResNet-18 (800 ep)") and the group's other two columns are `pub.` and `Δ`.

Each column group holds our mean ± std over seeds, the published value and the delta. A delta is
printed only where the numbers are comparable (same budget, reducer and network, full scale);
otherwise a footnote gives the reason. Published values from sources that disagree are shown
side by side and a footnote names every source. The best mean of a column is bold and the second
underlined; ranks are taken on the printed values, so printed ties share a rank (two bold values
leave no second place). When the table has an AdAutoMix row, a Gain row follows (see `gain.py`).
Above the table, notes state the reducer and network behind every number, ours and published.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from pathlib import Path

from bench import reducers, registry, safe_io
from bench.report.collect import Cell, Column, columns, rows
from bench.report.gain import CONFIDENCE, MIN_SEEDS, Gain, gains, target_rows

NETWORKS = {
    "online": "the network being trained",
    "online_mix": "the trained network's mixed-sample head",
    "ema": "the EMA teacher (one-hot head)",
    "ema_mix": "the EMA teacher's mixed-sample head",
}


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def signed(value: float) -> str:
    """'+0.21', '-0.39'; never '-0.00'."""
    return f"{round(value, 2) + 0.0:+.2f}"


def display_name(cell: Cell) -> str:
    """How the paper writes the method; a labelled variant keeps its label."""
    if cell.method == cell.method_name:
        return registry.published_name("methods", cell.method_name)
    return cell.method


def column_name(column: Column, sep: str = " ", ran: str = "") -> str:
    """'CIFAR-100 ResNet-18 (800 ep)'; `ran` adds what a reduced-scale run trained."""
    dataset, backbone, epochs = column
    return (
        f"{registry.published_name('datasets', dataset)}{sep}"
        f"{registry.published_name('backbones', backbone)} ({epochs} ep{ran})"
    )


def rank_marks(cells: Iterable[Cell]) -> dict[str, str]:
    """method -> '**' for rank 1, '<u>' for rank 2 of a column, ranked on the printed means.

    Competition ranking: a value's rank is 1 + the number of strictly better printed values, so
    tied values share a rank and a tie for first leaves no second place. Nothing is marked when
    the column has fewer than two values or all are tied; no second place with fewer than three.
    """
    printed = {c.method: round(c.mean, 2) for c in cells if c.mean is not None}
    values = list(printed.values())
    if len(values) < 2 or len(set(values)) == 1:
        return {}
    marks = {}
    for method, value in printed.items():
        rank = 1 + sum(v > value for v in values)
        if rank == 1:
            marks[method] = "**"
        elif rank == 2 and len(values) >= 3:
            marks[method] = "<u>"
    return marks


class _Footnotes:
    """Numbered footnotes, one number per distinct text."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}

    def __call__(self, text: str) -> str:
        self.numbers.setdefault(text, len(self.numbers) + 1)
        return f"[{self.numbers[text]}]"

    def lines(self) -> list[str]:
        return [f"- [{number}] {text}" for text, number in self.numbers.items()]


def _measured(cell: Cell, seeds_expected: int, mark: str) -> str:
    if cell.mean is None:
        return "error" if cell.errors else "left out" if cell.left_out else "not run"
    text = _fmt(cell.mean) + (f" ± {_fmt(cell.std)}" if cell.std is not None else "")
    if mark:
        text = f"**{text}**" if mark == "**" else f"<u>{text}</u>"
    remarks = []
    if cell.n != seeds_expected or cell.errors or cell.missing or cell.left_out:
        remarks.append(f"n={cell.n}")
    if cell.errors:
        remarks.append(f"{len(cell.errors)} failed")
    if cell.left_out:
        remarks.append(f"{len(cell.left_out)} left out")
    if cell.missing:
        remarks.append(f"{len(cell.missing)} not run")
    if cell.scale < 1:
        remarks.append(f"scale {cell.scale:g}")
    return text + (f" ({', '.join(remarks)})" if remarks else "")


def _published(cell: Cell, footnote: _Footnotes) -> str:
    pub = cell.primary
    if pub is None:
        return "—"
    if not cell.conflicting:
        return _fmt(pub.value)
    others = list(dict.fromkeys(p.value for p in cell.published if p.value != pub.value))
    sources = "; ".join(
        f"{p.value:.2f} from {p.source} ({p.file}; `{p.reducer}` of `{p.network}`"
        + ("; the one compared)" if p is pub else ")")
        for p in cell.published
    )
    flagged = [p.notes for p in cell.published if p.conflict]
    text = f"published values disagree for {display_name(cell)} on {short_name((cell.dataset, cell.backbone, cell.epochs))}: {sources}."
    if flagged:
        text += " Source notes: " + " | ".join(dict.fromkeys(n.rstrip(". ") for n in flagged)) + "."
    also = f" (or {', '.join(_fmt(v) for v in others)})" if others else ""
    return f"{_fmt(pub.value)}{also} {footnote(text)}"


def _delta(cell: Cell, footnote: _Footnotes) -> str:
    if cell.primary is None or cell.mean is None:
        return "—"
    reason = cell.not_comparable_reason
    return f"n/c {footnote(f'not comparable: {reason}.')}" if reason else signed(cell.delta)


def _gain_cells(gain: Gain, scale: float) -> list[str]:
    ours = "—"
    if gain.value is not None:
        ours = signed(gain.value)
        if gain.interval:
            ours += f" [{signed(gain.interval[0])}, {signed(gain.interval[1])}]"
        if scale < 1:
            ours += f" (scale {scale:g})"
    published = "—" if gain.published is None else signed(gain.published)
    return [ours, published, ""]


def short_name(column: Column) -> str:
    """'CIFAR-100 · ResNet-18 · 800 ep', for lists in the notes."""
    dataset, backbone, epochs = column
    return (
        f"{registry.published_name('datasets', dataset)} · "
        f"{registry.published_name('backbones', backbone)} · {epochs} ep"
    )


def _who(pairs: list[tuple[str, Column]], all_columns: list[Column]) -> str:
    """'MixUp, CutMix (A; B)' from (method, column) pairs: a method alone covers every column."""
    by_method: dict[str, list[Column]] = {}
    for method, col in pairs:
        by_method.setdefault(method, []).append(col)
    return ", ".join(
        method if len(cols) == len(all_columns) else f"{method} ({'; '.join(map(short_name, cols))})"
        for method, cols in by_method.items()
    )


def _cells_who(cells: list[Cell], all_columns: list[Column]) -> str:
    return _who([(display_name(c), (c.dataset, c.backbone, c.epochs)) for c in cells], all_columns)


def _protocol_notes(cells: list[Cell], all_columns: list[Column]) -> list[str]:
    """Which reducer and network each number is: ours, then the published values compared."""

    def group(key: Callable[[Cell], tuple[str, str] | None]) -> dict[tuple[str, str], list[Cell]]:
        out: dict[tuple[str, str], list[Cell]] = {}
        for c in cells:
            k = key(c)
            if k is not None:
                out.setdefault(k, []).append(c)
        return out

    ours = group(lambda c: (c.reducer, c.network))
    published = group(lambda c: (c.primary.reducer, c.primary.network) if c.primary else None)
    lines = ["How each number was computed:", ""]
    for (reducer, network), members in ours.items():
        lines.append(f"- ours: `{reducer}` of network `{network}` for {_cells_who(members, all_columns)}.")
    for (reducer, network), members in published.items():
        lines.append(f"- pub.: `{reducer}` of network `{network}` for {_cells_who(members, all_columns)}.")
    used_reducers = dict.fromkeys(r for r, _ in [*ours, *published])
    used_networks = dict.fromkeys(n for _, net in [*ours, *published] for n in net.split("|"))
    glossary = [f"`{r}` = {reducers.describe(r)}" for r in used_reducers]
    glossary += [f"`{n}` = {NETWORKS[n]}" for n in used_networks if n in NETWORKS]
    if any("|" in net for _, net in [*ours, *published]):
        glossary.append("`a|b` = the larger of the two after reducing")
    lines += ["", "Where " + "; ".join(glossary) + "."]
    return lines


def _gain_note(gain_rows: list[Gain], target: str, all_columns: list[Column]) -> str:
    def versus(attr: str, value: str) -> str:
        pairs = [
            (registry.published_name("methods", getattr(g, attr)), g.column)
            for g in gain_rows
            if getattr(g, value) is not None
        ]
        return _who(pairs, all_columns) or "none"

    text = (
        f"Gain: {target} minus the best other method of the column, from the printed means "
        f"(best other: {versus('versus', 'value')})."
    )
    intervals = [g for g in gain_rows if g.interval]
    if intervals:
        ns = sorted({g.n for g in intervals})
        text += (
            f" In brackets, a {CONFIDENCE:.0%} Student t-interval over the per-seed paired differences "
            f"(n = {', '.join(map(str, ns))} seeds, t with n − 1 degrees of freedom); a seed fixes the "
            "initialisation and data order of every method, so the pairs share them. The best other "
            "method is picked on the same runs, so the interval is conditional on that pick."
        )
    missing = [g for g in gain_rows if g.value is not None and not g.interval]
    if missing:
        text += (
            " No interval on "
            + "; ".join(f"{short_name(g.column)} ({g.no_interval})" for g in missing)
            + f": it needs the same ≥ {MIN_SEEDS} seeds in both rows."
        )
    text += (
        f" The pub. Gain is the same statistic on the published values of this table's rows "
        f"(best other: {versus('published_versus', 'published')}), so it matches the paper's Gain row "
        "only when the table has the paper's rows."
    )
    return text


def markdown(cells: list[Cell], *, title: str, seeds: int, source_note: str) -> str:
    all_columns = columns(cells)
    by_key = {(c.method, c.dataset, c.backbone, c.epochs): c for c in cells}
    footnote = _Footnotes()
    scales = sorted({c.scale for c in cells if c.scale < 1})

    header = ["Method"]
    for col in all_columns:
        first = next(c for c in cells if (c.dataset, c.backbone, c.epochs) == col)
        ran = f"; ran {first.epochs_run} at ×{first.scale:g}" if first.scale < 1 else ""
        header += [column_name(col, "<br>", ran), "pub.", "Δ"]
    lines = [f"# {title}", ""]
    if scales:
        which = ", ".join(f"×{s:g}" for s in scales)
        lines += [
            f"> **Reduced scale {which}**: each run used that fraction of the epochs and of the training "
            "and test images. These numbers check the pipeline; they are never comparable with "
            "published values, so no Δ is given.",
            "",
        ]
    partial = dict.fromkeys(
        (short_name((c.dataset, c.backbone, c.epochs)), c.partial_data) for c in cells if c.partial_data
    )
    if partial:
        lines += [
            "> **Not the full dataset**: the runs read fewer images than the full release gives"
            + (" at this scale" if scales else "")
            + ": "
            + "; ".join(f"{text} ({column})" for column, text in partial)
            + ". The data on disk is an incomplete copy of the release, or a stand-in for it: these "
            "numbers say nothing about the published dataset and are never compared with it.",
            "",
        ]
    if source_note:
        lines += [source_note, ""]
    lines += [
        "Each column group: ours = top-1 (%) on the test split, mean ± sample std over seeds; pub. = "
        "the published value; Δ = ours − pub. where comparable (n/c: not comparable, see the notes). "
        "Best of a column **bold**, second <u>underlined</u> (on the printed values; ties share a rank).",
        "",
        *_protocol_notes(cells, all_columns),
        "",
    ]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    marks = {
        col: rank_marks(c for c in cells if (c.dataset, c.backbone, c.epochs) == col) for col in all_columns
    }
    for method in rows(cells):
        row = [display_name(next(c for c in cells if c.method == method))]
        for col in all_columns:
            cell = by_key.get((method, *col))
            if cell is None:
                row += ["", "", ""]
                continue
            mark = marks[col].get(method, "")
            row += [_measured(cell, seeds, mark), _published(cell, footnote), _delta(cell, footnote)]
        lines.append("| " + " | ".join(row) + " |")
    gain_rows = gains(cells)
    if gain_rows is not None:
        row = ["Gain"]
        for g in gain_rows:
            row += _gain_cells(
                g, min(c.scale for c in cells if (c.dataset, c.backbone, c.epochs) == g.column)
            )
        lines.append("| " + " | ".join(row) + " |")
    notes = footnote.lines()
    if gain_rows is not None:
        target = next(display_name(c) for c in cells if c.method == target_rows(cells)[0])
        notes.append(f"- {_gain_note(gain_rows, target, all_columns)}")
    if notes:
        lines += ["", "Notes:", "", *notes]
    failures = [(c, e) for c in cells for e in c.errors]
    if failures:
        lines += ["", "Failed jobs:", ""]
        lines += [f"- {c.method} / {c.backbone} / {c.dataset}, {e.splitlines()[0]}" for c, e in failures]
    left_out = [(c, why) for c in cells for why in c.left_out]
    if left_out:
        lines += ["", "Left out (records that do not agree with each other; `bench run` resumes them):", ""]
        lines += [f"- {c.method} / {c.backbone} / {c.dataset}, {why}" for c, why in left_out]
    return "\n".join(lines).rstrip() + "\n"


CSV_FIELDS = [
    "method",
    "dataset",
    "backbone",
    "epochs",
    "epochs_run",
    "scale",
    "reducer",
    "network",
    "n",
    "mean",
    "std",
    "values",
    "seeds",
    "errors",
    "published",
    "published_source",
    "published_reducer",
    "published_network",
    "published_others",
    "conflict",
    "delta",
    "comparable",
    "reason",
    "versus",
    "published_versus",
    "ci_low",
    "ci_high",
    "data_shortfall",
]


def _cell_row(c: Cell) -> dict[str, object]:
    reason = c.not_comparable_reason
    pub = c.primary
    return {
        "method": c.method,
        "dataset": c.dataset,
        "backbone": c.backbone,
        "epochs": c.epochs,
        "epochs_run": c.epochs_run,
        "scale": c.scale,
        "reducer": c.reducer,
        "network": c.network,
        "n": c.n,
        "mean": _fmt(c.mean, 4) if c.mean is not None else "",
        "std": _fmt(c.std, 4) if c.std is not None else "",
        "values": " ".join(f"{v:.4f}" for v in c.values),
        "seeds": " ".join(map(str, c.seeds)),
        "errors": len(c.errors),
        "published": pub.value if pub else "",
        "published_source": pub.source if pub else "",
        "published_reducer": pub.reducer if pub else "",
        "published_network": pub.network if pub else "",
        "published_others": "; ".join(f"{p.value:.2f} ({p.source})" for p in c.published if p is not pub),
        "conflict": c.conflicting,
        "delta": f"{c.delta:.4f}" if c.delta is not None and not reason else "",
        "comparable": reason is None,
        "reason": reason or "",
        "data_shortfall": c.partial_data,
    }


def _gain_row(g: Gain, cells: list[Cell]) -> dict[str, object]:
    dataset, backbone, epochs = g.column
    here = next(c for c in cells if (c.dataset, c.backbone, c.epochs) == g.column)
    return {
        "method": "Gain",
        "dataset": dataset,
        "backbone": backbone,
        "epochs": epochs,
        "epochs_run": here.epochs_run,
        "scale": here.scale,
        "n": g.n,
        "mean": f"{g.value:.4f}" if g.value is not None else "",
        "published": f"{g.published:.2f}" if g.published is not None else "",
        "comparable": False,
        "reason": g.no_interval,
        "versus": g.versus or "",
        "published_versus": g.published_versus or "",
        "ci_low": f"{g.interval[0]:.4f}" if g.interval else "",
        "ci_high": f"{g.interval[1]:.4f}" if g.interval else "",
    }


def csv_text(cells: list[Cell]) -> str:
    """One row per cell, then (with an AdAutoMix row) one `Gain` row per column."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(_cell_row(c) for c in cells)
    writer.writerows(_gain_row(g, cells) for g in gains(cells) or [])
    return buffer.getvalue()


def write(
    cells: list[Cell], out_dir: Path, name: str, *, title: str, seeds: int, source_note: str
) -> tuple[Path, Path]:
    md_path, csv_path = out_dir / f"{name}.md", out_dir / f"{name}.csv"
    safe_io.write_text(md_path, markdown(cells, title=title, seeds=seeds, source_note=source_note))
    safe_io.write_text(csv_path, csv_text(cells))
    return md_path, csv_path
