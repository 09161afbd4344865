"""Render cells as a leaderboard in the shape of the AdAutoMix paper's tables, in Markdown and CSV.

Rows are methods in the suite's order: its methods axis, then any method that only `include`
adds; a row's name says which method parameters differ from the defaults ("MixUp (α=0.4)").
Columns are grouped by dataset, then by backbone and training budget, in the order the suite
lists them. Markdown has no column spans, so the group's first header cell names both levels
("CIFAR-100<br>ResNet-18 (800 ep)") and the group's other columns are `pub.`, `log` (the value
recomputed from a released training log, when there is one) and `Δ`.

Every rule that decides what a number may claim lives elsewhere and is only applied here:
`comparable` decides whether a Δ may be printed (n/c with the differing keys otherwise), `gain`
whether a column may be ranked and its Gain computed (complete rows with the same seeds and
reducer), `precision` how many decimals a column's test set supports, `collect` whether a seed's
record holds up (failed, invalid, not run). A number selected on the test set (a best-epoch
reducer, or the larger of two heads) carries †. Above the table, notes state what produced the
runs (hardware, torch build, commit), each column's precision, and the reducer and network
behind every number, ours and published.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from pathlib import Path

from bench import reducers, registry, safe_io
from bench.report.collect import Cell, Column, column_of, columns, disagrees, rows, test_selected
from bench.report.cost import Cost
from bench.report.gain import CONFIDENCE, MIN_SEEDS, Gain, gains, refusal, target_rows
from bench.report.names import column_name, display_name, parameter_notes, row_name, short_name
from bench.report.precision import decimals_of, precision_note, provenance_lines
from bench.report.released import ReleasedValue

NETWORKS = {
    "online": "the network being trained",
    "online_mix": "the trained network's mixed-sample head",
    "ema": "the EMA teacher (one-hot head)",
    "ema_mix": "the EMA teacher's mixed-sample head",
}
SELECTED = "†"  # a number selected on the test set
REPRODUCIBILITY = (
    "Reproducibility: re-running a job on the same hardware with the same torch build gives "
    "bit-identical numbers; on other hardware or another build the numbers differ within the seeds' "
    "spread (the smoke suite's Vanilla cell reads 51.66 on an Intel Xeon and 53.12 on an AMD EPYC)."
)


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else f"{value}"
    return f"{value:.{digits}f}"


def signed(value: float, digits: int = 2) -> str:
    """'+0.21', '-0.39'; never '-0.00'."""
    return f"{round(value, digits) + 0.0:+.{digits}f}"


def rank_marks(cells: list[Cell], digits: int = 2) -> dict[str, str]:
    """method -> '**' for rank 1, '<u>' for rank 2 of a column, ranked on the printed means.

    Competition ranking: a value's rank is 1 + the number of strictly better printed values, so
    tied values share a rank and a tie for first leaves no second place. Nothing is marked when
    the column's rows may not be ranked (`gain.refusal`: an incomplete row, other seeds or
    reducers), has fewer than two values or all are tied; no second place with fewer than three.
    """
    if refusal(cells):
        return {}
    printed = {c.method: round(c.mean, digits) for c in cells if c.mean is not None}
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


def _measured(cell: Cell, mark: str, digits: int) -> str:
    nans = sum(" is nan at epoch " in why for why in cell.invalid)
    if cell.mean is None:
        if cell.errors:
            return "failed"
        if cell.invalid:
            return "NaN" if nans == len(cell.invalid) else "invalid"
        return "not run"
    text = _fmt(cell.mean, digits) + (f" ± {_fmt(cell.std, digits)}" if cell.std is not None else "")
    if mark:
        text = f"**{text}**" if mark == "**" else f"<u>{text}</u>"
    if cell.test_selected:
        text += f" {SELECTED}"
    remarks = []
    if cell.n != cell.expected or cell.incomplete:
        remarks.append(f"n={cell.n} of {cell.expected}")
    if cell.errors:
        remarks.append(f"{len(cell.errors)} failed")
    if nans:
        remarks.append(f"{nans} NaN")
    if len(cell.invalid) > nans:
        remarks.append(f"{len(cell.invalid) - nans} invalid")
    if cell.missing:
        remarks.append(f"{len(cell.missing)} not run")
    if cell.scale < 1:
        remarks.append(f"scale {cell.scale:g}")
    return text + (f" ({', '.join(remarks)})" if remarks else "")


def _published(cell: Cell, footnote: _Footnotes) -> str:
    pub = cell.primary
    if pub is None:
        return "—"
    shown = _fmt(pub.value) + (f" {SELECTED}" if test_selected(pub.reducer, pub.network) else "")
    if not cell.conflicting:
        return shown
    others = list(dict.fromkeys(p.value for p in cell.published if p.value != pub.value))
    sources = "; ".join(
        f"{_fmt(p.value)} from {p.source} ({p.table}; `{p.reducer}` of `{p.network}`"
        + ("; the one compared)" if p is pub else ")")
        for p in cell.published
    )
    flagged = [_disagreement(p) for p in cell.published if disagrees(p)]
    text = f"published values disagree for {display_name(cell)} on {short_name(column_of(cell))}: {sources}."
    if flagged:
        text += " Source notes: " + " | ".join(dict.fromkeys(n.rstrip(". ") for n in flagged)) + "."
    also = f" (or {', '.join(_fmt(v) for v in others)})" if others else ""
    return f"{shown}{also} {footnote(text)}"


def _disagreement(row: object) -> str:
    differs = getattr(row, "checks", {}).get("differs")
    return f"differs: {differs}" if differs else getattr(row, "notes", "")


def _delta(cell: Cell, footnote: _Footnotes, digits: int) -> str:
    if cell.primary is None or cell.mean is None:
        return "—"
    reason = cell.not_comparable_reason
    if reason:
        return f"n/c {footnote(f'not comparable: {reason}.')}"
    return signed(cell.delta, digits)


def _column_note(column: Column, ranks: str, gain: str) -> str:
    """The footnote text for a column that may not be ranked and/or has no Gain."""
    if ranks and ranks == gain:
        return f"no ranks and no Gain in {short_name(column)}: {ranks}."
    return f"no {'ranks' if ranks else 'Gain'} in {short_name(column)}: {ranks or gain}."


def _gain_cells(gain: Gain, scale: float, digits: int, footnote: _Footnotes, ranks: str) -> list[str]:
    ours = "—"
    if gain.refused:
        shared = ranks if ranks == gain.refused else ""
        ours = f"n/c {footnote(_column_note(gain.column, shared, gain.refused))}"
    elif gain.value is not None:
        ours = signed(gain.value, digits)
        if gain.interval:
            ours += f" [{signed(gain.interval[0], digits)}, {signed(gain.interval[1], digits)}]"
        if scale < 1:
            ours += f" (scale {scale:g})"
    published = "—" if gain.published is None else signed(gain.published)
    return [ours, published]


def _who(pairs: list[tuple[str, Column]], all_columns: list[Column]) -> str:
    """'MixUp, CutMix (A; B)' from (method, column) pairs: methods with the same columns share one
    list, and a method alone covers every column."""
    by_method: dict[str, list[Column]] = {}
    for method, col in pairs:
        by_method.setdefault(method, []).append(col)
    by_columns: dict[tuple[Column, ...], list[str]] = {}
    for method, cols in by_method.items():
        by_columns.setdefault(tuple(cols), []).append(method)
    return "; ".join(
        ", ".join(methods)
        + ("" if len(cols) == len(all_columns) else f" ({'; '.join(map(short_name, cols))})")
        for cols, methods in by_columns.items()
    )


def _cells_who(cells: list[Cell], all_columns: list[Column]) -> str:
    return _who([(display_name(c), column_of(c)) for c in cells], all_columns)


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
        glossary.append("`a|b` = the larger of the two after reducing (a choice made on the test set)")
    lines += ["", "Where " + "; ".join(glossary) + "."]
    return lines


def _gain_note(gain_rows: list[Gain], target: str, all_columns: list[Column]) -> str:
    def versus(attr: str, value: str) -> str:
        pairs = [(getattr(g, attr), g.column) for g in gain_rows if getattr(g, value) is not None]
        return _who([(registry.published_name("methods", m), c) for m, c in pairs], all_columns) or "none"

    computed = any(g.value is not None for g in gain_rows)
    text = (
        f"Gain: {target} minus the best other method of the column, from the printed means, over "
        "complete rows only (every seed of every row valid, the same seeds, the same reducer; n/c "
        "otherwise)" + (f" (best other: {versus('versus', 'value')})." if computed else ".")
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
            + f": it needs ≥ {MIN_SEEDS} seeds."
        )
    if any(g.published is not None for g in gain_rows):
        text += (
            f" The pub. Gain is the same statistic on the published values of this table's rows "
            f"(best other: {versus('published_versus', 'published')}), so it matches the paper's Gain row "
            "only when the table has the paper's rows."
        )
    return text


def _rank_refusal(here: list[Cell]) -> str:
    """Why a column with something to rank (two values or more) is not ranked ('' otherwise)."""
    return refusal(here) if sum(c.mean is not None for c in here) >= 2 else ""


def _rank_notes(cells: list[Cell], all_columns: list[Column]) -> list[str]:
    """Columns whose ranks rest on one seed per row (a refused column has its footnote)."""
    lines = []
    for column in all_columns:
        here = [c for c in cells if column_of(c) == column]
        if not refusal(here) and all(c.n == 1 for c in here) and len(here) > 1:
            lines.append(f"Ranks in {short_name(column)} rest on one seed per row: no spread behind them.")
    return lines


def _banners(cells: list[Cell]) -> list[str]:
    lines = []
    scales = sorted({c.scale for c in cells if c.scale < 1})
    if scales:
        which = ", ".join(f"×{s:g}" for s in scales)
        lines += [
            f"> **Reduced scale {which}**: each run used that fraction of the epochs and of the training "
            "and test images. These numbers check the pipeline; they are never comparable with "
            "published values, so no Δ is given.",
            "",
        ]
    partial = dict.fromkeys((short_name(column_of(c)), c.partial_data) for c in cells if c.partial_data)
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
    return lines


def _header(cells: list[Cell], all_columns: list[Column], source_note: str, with_log: bool) -> list[str]:
    lines = _banners(cells)
    if source_note:
        lines += [source_note, ""]
    produced = provenance_lines(cells)
    lines += ["Produced by:", "", *(produced or ["- no finished run yet"]), "", REPRODUCIBILITY, ""]
    lines += [precision_note(cells, all_columns), ""]
    log = (
        " log = the value recomputed from the released training log with our reducer and network;"
        if with_log
        else ""
    )
    lines += [
        "Each column group: ours = top-1 (%) on the test split, mean ± sample std over seeds; pub. = "
        f"the published value;{log} Δ = ours − pub. where the runs are the published experiment and "
        "complete (n/c: not comparable, the note says which keys differ). Best of a column **bold**, "
        f"second <u>underlined</u>, over complete rows only (on the printed values; ties share a rank). "
        f"{SELECTED} = selected on the test set (a best-epoch reducer, or the larger of two heads).",
        "",
        *_protocol_notes(cells, all_columns),
        "",
    ]
    return lines


def markdown(
    cells: list[Cell],
    *,
    title: str,
    source_note: str,
    costs: dict[tuple[str, Column], Cost] | None = None,
    logs: dict[tuple[str, Column], ReleasedValue] | None = None,
) -> str:
    all_columns = columns(cells)
    logs = logs or {}
    by_key = {(c.method, *column_of(c)): c for c in cells}
    footnote = _Footnotes()
    with_log = bool(logs)
    gain_rows = gains(cells)
    gain_of = {g.column: g for g in gain_rows or []}
    refused = {col: _rank_refusal([c for c in cells if column_of(c) == col]) for col in all_columns}
    header = ["Method"]
    for col in all_columns:
        first = next(c for c in cells if column_of(c) == col)
        ran = f"; ran {first.epochs_run} at ×{first.scale:g}" if first.scale < 1 else ""
        name = column_name(col, "<br>", ran)
        if refused[col]:
            gain = gain_of[col].refused if col in gain_of else ""
            name += f" {footnote(_column_note(col, refused[col], gain if gain == refused[col] else ''))}"
        header += [name, "pub.", *(["log"] if with_log else []), "Δ"]
    lines = [f"# {title}", "", *_header(cells, all_columns, source_note, with_log)]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    digits = {col: decimals_of(c for c in cells if column_of(c) == col) for col in all_columns}
    marks = {col: rank_marks([c for c in cells if column_of(c) == col], digits[col]) for col in all_columns}
    for method in rows(cells):
        row = [row_name([c for c in cells if c.method == method])]
        for col in all_columns:
            cell = by_key.get((method, *col))
            if cell is None:
                row += [""] * (4 if with_log else 3)
                continue
            row += [_measured(cell, marks[col].get(method, ""), digits[col]), _published(cell, footnote)]
            if with_log:
                row.append(_log_cell(logs.get((method, col))))
            row.append(_delta(cell, footnote, digits[col]))
        lines.append("| " + " | ".join(row) + " |")
    if gain_rows is not None:
        row = ["Gain"]
        for g in gain_rows:
            scale = min(c.scale for c in cells if column_of(c) == g.column)
            ours, published = _gain_cells(g, scale, digits[g.column], footnote, refused[g.column])
            row += [ours, published, *([""] if with_log else []), ""]
        lines.append("| " + " | ".join(row) + " |")
    if costs and any(c.ratio is not None and c.source != "definition" for c in costs.values()):
        from bench.report.cost import cost_table

        lines += ["", *cost_table(cells, costs)]
    lines += _notes(cells, all_columns, footnote, gain_rows)
    return "\n".join(lines).rstrip() + "\n"


def _log_cell(value: ReleasedValue | None) -> str:
    return "—" if value is None else value.text


def _notes(
    cells: list[Cell], all_columns: list[Column], footnote: _Footnotes, gain_rows: list[Gain] | None
) -> list[str]:
    notes = footnote.lines()
    notes += [f"- {line}" for line in _rank_notes(cells, all_columns)]
    notes += [f"- Parameters: {line}" for line in parameter_notes(cells, rows(cells))]
    if gain_rows is not None:
        target = next(display_name(c) for c in cells if c.method == target_rows(cells)[0])
        notes.append(f"- {_gain_note(gain_rows, target, all_columns)}")
    lines = ["", "Notes:", "", *notes] if notes else []
    problems = [(c, e, "failed") for c in cells for e in c.errors]
    problems += [(c, e, "invalid") for c in cells for e in c.invalid]
    if problems:
        lines += ["", "Failed and invalid runs:", ""]
        lines += [
            f"- {c.method} / {c.backbone} / {c.dataset}, {e.splitlines()[0]} ({kind})"
            for c, e, kind in problems
        ]
    return lines


CSV_FIELDS = [
    "method",
    "dataset",
    "backbone",
    "row_name",
    "epochs",
    "epochs_run",
    "scale",
    "reducer",
    "network",
    "test_selected",
    "n",
    "expected",
    "mean",
    "std",
    "values",
    "seeds",
    "errors",
    "invalid",
    "not_run",
    "complete",
    "test_images",
    "decimals",
    "published",
    "published_source",
    "published_table",
    "published_reducer",
    "published_network",
    "published_others",
    "conflict",
    "delta",
    "comparable",
    "reason",
    "released_log",
    "cost",
    "cost_source",
    "versus",
    "published_versus",
    "ci_low",
    "ci_high",
    "data_shortfall",
]


def _cell_row(c: Cell, costs: dict, logs: dict) -> dict[str, object]:
    reason = c.not_comparable_reason
    pub = c.primary
    cost = costs.get((c.method, column_of(c)))
    log = logs.get((c.method, column_of(c)))
    return {
        "method": c.method,
        "row_name": row_name([c]),
        "dataset": c.dataset,
        "backbone": c.backbone,
        "epochs": c.epochs,
        "epochs_run": c.epochs_run,
        "scale": c.scale,
        "reducer": c.reducer,
        "network": c.network,
        "test_selected": c.test_selected,
        "n": c.n,
        "expected": c.expected,
        "mean": _fmt(c.mean, 4) if c.mean is not None else "",
        "std": _fmt(c.std, 4) if c.std is not None else "",
        "values": " ".join(f"{v:.4f}" for v in c.values),
        "seeds": " ".join(map(str, c.seeds)),
        "errors": len(c.errors),
        "invalid": len(c.invalid),
        "not_run": len(c.missing),
        "complete": not c.incomplete,
        "test_images": " ".join(map(str, sorted(set(c.test_images)))),
        "decimals": decimals_of([c]),
        "published": pub.value if pub else "",
        "published_source": pub.source if pub else "",
        "published_table": pub.table if pub else "",
        "published_reducer": pub.reducer if pub else "",
        "published_network": pub.network if pub else "",
        "published_others": "; ".join(f"{p.value:.2f} ({p.source})" for p in c.published if p is not pub),
        "conflict": c.conflicting,
        "delta": f"{c.delta:.4f}" if c.delta is not None else "",
        "comparable": reason is None,
        "reason": reason or "",
        "released_log": f"{log.value:.4f}" if log and log.value is not None else "",
        "cost": f"{cost.ratio:.4f}" if cost and cost.ratio is not None else "",
        "cost_source": cost.source if cost else "",
        "data_shortfall": c.partial_data,
    }


def _gain_row(g: Gain, cells: list[Cell]) -> dict[str, object]:
    dataset, backbone, epochs = g.column
    here = next(c for c in cells if column_of(c) == g.column)
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
        "complete": not g.refused,
        "reason": g.refused or g.no_interval,
        "versus": g.versus or "",
        "published_versus": g.published_versus or "",
        "ci_low": f"{g.interval[0]:.4f}" if g.interval else "",
        "ci_high": f"{g.interval[1]:.4f}" if g.interval else "",
    }


def csv_text(
    cells: list[Cell],
    costs: dict[tuple[str, Column], Cost] | None = None,
    logs: dict[tuple[str, Column], ReleasedValue] | None = None,
) -> str:
    """One row per cell, then (with an AdAutoMix row) one `Gain` row per column."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(_cell_row(c, costs or {}, logs or {}) for c in cells)
    writer.writerows(_gain_row(g, cells) for g in gains(cells) or [])
    return buffer.getvalue()


def write(
    cells: list[Cell],
    out_dir: Path,
    name: str,
    *,
    title: str,
    source_note: str,
    costs: dict[tuple[str, Column], Cost] | None = None,
    logs: dict[tuple[str, Column], ReleasedValue] | None = None,
) -> tuple[Path, Path]:
    md_path, csv_path = out_dir / f"{name}.md", out_dir / f"{name}.csv"
    safe_io.write_text(md_path, markdown(cells, title=title, source_note=source_note, costs=costs, logs=logs))
    safe_io.write_text(csv_path, csv_text(cells, costs, logs))
    return md_path, csv_path
