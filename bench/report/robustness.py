"""The robustness table, shaped like AdAutoMix's Table 3 (Clean Acc ↑, Corruption Acc ↑, FGSM
Error ↓), from the runs' `robustness.json`, with the published values beside ours.

It is the leaderboard's path with other columns: the rows are the leaderboard's `Cell`s (one per
method and headline column of the evaluator table, bench/evaluate/config.py), the published values
are the leaderboard's, a Δ is printed only where the leaderboard's comparability rule allows it
(plus what only an evaluator knows: its convention differs from the paper's code, or its
corrupted set is generated), and cells are rendered by the leaderboard's functions.

One table per (dataset, backbone, budget, scale); rows are methods, with the network the
leaderboard reports: the suite's declared one, or the method's. Where that names alternatives
(`ema|ema_mix`), the first is reported, never the one that scores better on the test set; every
network evaluated is in a second table. Mean ± sample std over seeds.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import records, registry, safe_io
from bench.evaluate import corruption as corruption_mod
from bench.evaluate.config import EVALUATORS, HeadlineColumn
from bench.evaluate.store import read_store
from bench.job import Job
from bench.report import figures, robustness_notes, robustness_published
from bench.report.collect import Cell, PublishedLike, new_cell, resolve_network
from bench.report.leaderboard import (
    _delta,
    _fmt,
    _Footnotes,
    _measured,
    _published,
    display_name,
    rank_marks,
)
from bench.report.precision import decimals_of
from bench.report.write import staged

Group = tuple[str, str, int, float]  # dataset, backbone, budget epochs, scale
COLUMNS: dict[str, tuple[str, HeadlineColumn]] = {
    c.key: (e.name, c) for e in EVALUATORS.values() for c in e.columns
}
MCE = HeadlineColumn("mce", "mCE ↓", "mce", False)  # from two runs' corruption cells, not one record
PAPER = [key for key, (_, c) in COLUMNS.items() if c.paper]
KEYS = [*COLUMNS, MCE.key]
CORRUPTION_KEYS = ("corruption", "cacc15", "mce")


def reported_network(job: Job) -> str:
    """The network the robustness table reports for `job`: the leaderboard's (the suite's
    `report.network`, else the method's primary network); of alternatives the first, which is
    declared before any test score exists."""
    return resolve_network(job).split("|")[0]


@dataclass
class RobustnessCells:
    """Cells by (group, method label) and column key; `every` also by network."""

    reported: dict[tuple[Group, str], dict[str, Cell]] = field(default_factory=dict)
    every: dict[tuple[Group, str, str], dict[str, Cell]] = field(default_factory=dict)
    stores: list[tuple[Job, dict[str, Any]]] = field(default_factory=list)  # (job, its evaluations)


def _group(job: Job) -> Group:
    return (job.dataset, job.backbone, job.nominal_epochs, job.scale)


def _value(evaluations: dict[str, Any], key: str, network: str) -> float | None:
    evaluator, col = COLUMNS[key]
    record = evaluations.get(evaluator, {}).get(network)
    return None if record is None else record.get(col.field)


def _cells(table: dict, key: tuple, job: Job, network: str) -> dict[str, Cell]:
    """The cells (one per column) of a table row, created on first use; every evaluator reads
    the final checkpoint."""
    return table.setdefault(key, {k: new_cell(job, network, reducer="final") for k in KEYS})


def collect(
    entries: list[tuple[Job, Path]],
    published: list[PublishedLike],
    suites_dir: Path,
    *,
    errors: dict[Path, str] | None = None,
    mce_baseline: str | None = None,
) -> RobustnessCells:
    """Every run's stored numbers, as cells of its method's reported network (with the published
    rows of the same suite cell and the reasons they are not comparable) and of every network."""
    out = RobustnessCells()
    for job, run_dir in entries:
        baseline = _baseline_dir(job, entries, mce_baseline) if mce_baseline else None
        _add_run(out, job, run_dir, (errors or {}).get(run_dir), baseline)
    for row in out.reported.values():
        for key, cell in row.items():
            robustness_published.attach(cell, key, published, suites_dir)
            if key in CORRUPTION_KEYS and _generated(out, cell):
                robustness_published.mark_generated(cell)
    return out


def _add_run(out: RobustnessCells, job: Job, run_dir: Path, error: str | None, baseline: Path | None) -> None:
    network = reported_network(job)
    row = _cells(out.reported, (_group(job), job.method), job, network)
    for cell in row.values():
        cell.jobs.append(robustness_published.robustness_job(job, network))
        if error:
            cell.errors.append(f"seed {job.seed}: {error}")
    store = read_store(run_dir)
    evaluations = store.evaluations if store.run_id == job.id else {}
    if not evaluations:
        for cell in row.values() if not error else ():
            cell.missing.append(job.seed)
        return
    out.stores.append((job, evaluations))
    for name in sorted({n for per in evaluations.values() for n in per}):
        every = _cells(out.every, (_group(job), job.method, name), job, name)
        for cell in every.values():
            cell.jobs.append(robustness_published.robustness_job(job, name))
        images = evaluations.get("clean", {}).get(name, {}).get("n")
        for key in KEYS:
            value = _mce(evaluations, name, baseline) if key == MCE.key else _value(evaluations, key, name)
            for target in [every, row] if name == network else [every]:
                _add_value(target[key], job.seed, name, value, images)


def _add_value(cell: Cell, seed: int, network: str, value: Any, images: Any) -> None:
    """One seed's stored number into its cell; a value that is not a finite number makes the seed
    invalid (shown, never averaged or ranked)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        cell.invalid.append(f"seed {seed}: {network}'s value is {value!r} in robustness.json")
        return
    cell.values.append(float(value))
    cell.seeds.append(seed)
    cell.networks_used.append(network)
    cell.test_images += [int(images)] if isinstance(images, int) and images > 0 else []


def _baseline_dir(job: Job, entries: list[tuple[Job, Path]], baseline: str) -> Path | None:
    """The mCE baseline's run for `job`: a run folder, or the same suite's run of that method label
    with the same dataset, backbone and seed."""
    as_path = Path(baseline)
    if as_path.is_dir():
        return as_path
    for other, other_dir in entries:
        same = (other.dataset, other.backbone, other.seed) == (job.dataset, job.backbone, job.seed)
        if other.method == baseline and same:
            return other_dir
    return None


def _mce(store: dict[str, Any], network: str, baseline_dir: Path | None) -> float | None:
    ours = store.get("corruption", {}).get(network)
    if ours is None or baseline_dir is None:
        return None
    base_store = read_store(baseline_dir).evaluations
    base_job = records.read_spec(baseline_dir)
    base = base_store.get("corruption", {}).get(reported_network(base_job))
    if base is None or base.get("source") != ours.get("source"):
        return None  # never divide errors measured on different corrupted sets
    return corruption_mod.mce(ours["cells"], base["cells"])


# --- rendering ---------------------------------------------------------------------------------


def _column(key: str) -> HeadlineColumn:
    return MCE if key == MCE.key else COLUMNS[key][1]


def shown_columns(rows: Iterable[dict[str, Cell]]) -> list[str]:
    """The paper's three columns always; the others where something was measured."""
    rows = list(rows)
    measured = {k for row in rows for k, cell in row.items() if cell.values}
    return [*PAPER, *(k for k in [*COLUMNS, MCE.key] if k not in PAPER and k in measured)]


def _marks(cells: list[Cell], higher_is_better: bool, digits: int) -> dict[str, str]:
    """The leaderboard's bold/underline ranks (none over incomplete rows), on the value that is
    better when larger."""
    if higher_is_better:
        return rank_marks(cells, digits)
    flipped = [Cell(**{**c.__dict__, "values": [-v for v in c.values]}) for c in cells]
    return rank_marks(flipped, digits)


def _shown(cell: Cell, mark: str, digits: int) -> str:
    """The leaderboard's cell text, where a seed without a record was 'not evaluated'."""
    if cell.mean is None:
        counts = [
            (len(cell.errors), "failed"),
            (len(cell.invalid), "invalid"),
            (len(cell.missing), "not evaluated"),
        ]
        parts = [f"{n} {what}" for n, what in counts if n]
        head = "failed" if cell.errors else "invalid" if cell.invalid else "—"
        return head + (f" ({', '.join(parts)})" if parts else "")
    return _measured(cell, mark, digits).replace("not run", "not evaluated")


def _mixed_sources(cell: Cell, sources: dict[tuple[Group, str], set[str]], group: Group) -> bool:
    return len(sources.get((group, cell.method), set())) > 1


def _group_title(group: Group) -> str:
    dataset, backbone, epochs, scale = group
    return (
        f"{registry.published_name('datasets', dataset)} · {registry.published_name('backbones', backbone)}"
        f" · {epochs} epoch{'s' if epochs != 1 else ''}" + (f" · scale ×{scale:g}" if scale < 1 else "")
    )


def _table(collected: RobustnessCells, group: Group, footnote: _Footnotes) -> list[str]:
    rows = {method: row for (g, method), row in collected.reported.items() if g == group}
    keys = shown_columns(rows.values())
    sources = _corruption_sources(collected)
    digits = decimals_of(cell for row in rows.values() for cell in row.values())
    header = ["Method", "Network"]
    for key in keys:
        header += [_column(key).title] + (["pub.", "Δ"] if key in PAPER else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    marks = {k: _marks([row[k] for row in rows.values()], _column(k).higher_is_better, digits) for k in keys}
    for method, row in rows.items():
        first = row[keys[0]]
        cells = [display_name(first), first.network]
        for key in keys:
            cell = row[key]
            if key in CORRUPTION_KEYS and _mixed_sources(cell, sources, group):
                cells.append("mixed sources (see CSV)")  # never average a released set with a generated one
            else:
                cells.append(_shown(cell, marks[key].get(method, ""), digits))
            if key in PAPER:
                cells += [_published(cell, footnote), _delta(cell, footnote, digits)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _generated(collected: RobustnessCells, cell: Cell) -> bool:
    """Some of the cell's corruption numbers were computed on a generated set."""
    return any(
        store.get("corruption", {}).get(net, {}).get("generated")
        for job, store in collected.stores
        if (job.method, job.dataset, job.backbone) == (cell.method, cell.dataset, cell.backbone)
        for net in cell.networks_used
    )


def _sources(collected: RobustnessCells, cell: Cell) -> set[str]:
    """The corrupted sets behind a cell's corruption numbers."""
    return {
        store["corruption"][net].get("source", "?")
        for job, store in collected.stores
        if (job.method, job.dataset, job.backbone, job.scale)
        == (cell.method, cell.dataset, cell.backbone, cell.scale)
        for net in set(cell.networks_used)
        if net in store.get("corruption", {})
    }


def _corruption_sources(collected: RobustnessCells) -> dict[tuple[Group, str], set[str]]:
    out: dict[tuple[Group, str], set[str]] = {}
    for job, store in collected.stores:
        record = store.get("corruption", {}).get(reported_network(job))
        if record:
            out.setdefault((_group(job), job.method), set()).add(record.get("source", "?"))
    return out


def _every_network(collected: RobustnessCells) -> list[str]:
    """A table of every network of the methods that report several (online and EMA teacher, ...)."""
    counts: dict[tuple[Group, str], int] = {}
    for group, method, _ in collected.every:
        counts[group, method] = counts.get((group, method), 0) + 1
    multi = {k: row for k, row in collected.every.items() if counts[k[0], k[1]] > 1}
    if not multi:
        return []
    keys = shown_columns(multi.values())
    digits = decimals_of(cell for row in multi.values() for cell in row.values())
    lines = [
        "## Every evaluated network",
        "",
        "| Method | Dataset · Backbone | Network | " + " | ".join(_column(k).title for k in keys) + " |",
        "|" + "---|" * (3 + len(keys)),
    ]
    for (group, _, network), row in multi.items():
        first = row[keys[0]]
        where = f"{registry.published_name('datasets', group[0])} · {registry.published_name('backbones', group[1])}"
        lines.append(
            f"| {display_name(first)} | {where} | {network} | "
            + " | ".join(_shown(row[k], "", digits) for k in keys)
            + " |"
        )
    return [*lines, ""]


def markdown(collected: RobustnessCells, *, title: str, source_note: str) -> str:
    footnote = _Footnotes()
    lines = [f"# {title}", "", source_note, ""]
    groups = list(dict.fromkeys(group for group, _ in collected.reported))
    for group in groups:
        lines += [f"## {_group_title(group)}", ""]
        sources = sorted(
            {s for (g, _), found in _corruption_sources(collected).items() if g == group for s in found}
        )
        if sources:
            lines += [f"Corrupted test set: {'; '.join(sources)}.", ""]
        lines += [*_table(collected, group, footnote), ""]
    lines += _every_network(collected)
    lines += ["Notes:", "", *robustness_notes.notes(collected), *footnote.lines()]
    failures = [
        (row[PAPER[0]], error) for row in collected.reported.values() for error in row[PAPER[0]].errors
    ]
    if failures:
        lines += ["", "Failed evaluations:", ""]
        lines += [f"- {c.method} / {c.backbone} / {c.dataset}, {e.splitlines()[0]}" for c, e in failures]
    return "\n".join(lines).rstrip() + "\n"


def published_reference(collected: RobustnessCells, rows: list[PublishedLike]) -> list[str]:
    """The robustness tables of the published table (those with a column beyond clean top-1) for
    the report's datasets and methods, as their sources print them, with backbone and budget."""
    metrics = {c.published_metric: key for key, (_, c) in COLUMNS.items() if c.published_metric}
    tables = {r.table for r in rows if r.metric in metrics and r.metric != "top1"}
    wanted = {(c.dataset, c.method_name) for row in collected.reported.values() for c in row.values()}
    found: dict[tuple[str, str, str, int, str], dict[str, float]] = {}
    for r in rows:
        if r.table in tables and r.metric in metrics and (r.dataset, r.method) in wanted:
            found.setdefault((r.table, r.dataset, r.backbone, r.epochs, r.method), {})[metrics[r.metric]] = (
                r.value
            )
    if not found:
        return []
    keys = [k for k in COLUMNS if any(k in v for v in found.values())]
    lines = [
        "## Published (for reference)",
        "",
        "| Table | Dataset · Backbone · Budget | Method | "
        + " | ".join(COLUMNS[k][1].title for k in keys)
        + " |",
        "|" + "---|" * (3 + len(keys)),
    ]
    for (table, dataset, backbone, epochs, method), values in found.items():
        where = _group_title((dataset, backbone, epochs, 1.0)) if epochs else f"{dataset} · {backbone}"
        shown = [_fmt(values.get(k)) for k in keys]
        lines.append(
            f"| {table} | {where} | {registry.published_name('methods', method)} | "
            + " | ".join(shown)
            + " |"
        )
    return [*lines, ""]


CSV_FIELDS = [
    "method",
    "dataset",
    "backbone",
    "epochs",
    "scale",
    "network",
    "reported",
    "column",
    "n",
    "seeds",
    "mean",
    "std",
    "values",
    "published",
    "reason",
    "corruption_source",
    "errors",
]


def csv_text(collected: RobustnessCells) -> str:
    """One line per (method, network, column) with a value or an error; `reported` marks the
    network the Markdown table shows."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for (group, method, network), row in collected.every.items():
        reported = collected.reported[group, method][PAPER[0]].network == network
        for key, cell in row.items():
            if not cell.values:
                continue
            writer.writerow(_csv_row(collected, group, cell, key, reported))
    for row in collected.reported.values():  # rows with nothing evaluated: their errors
        cell = row[PAPER[0]]
        if not cell.values and (cell.errors or cell.missing):
            writer.writerow(_csv_row(collected, _group_of(cell), cell, PAPER[0], True))
    return buffer.getvalue()


def _group_of(cell: Cell) -> Group:
    return (cell.dataset, cell.backbone, cell.epochs, cell.scale)


def _csv_row(
    collected: RobustnessCells, group: Group, cell: Cell, key: str, reported: bool
) -> dict[str, Any]:
    pub = cell.primary
    return {
        "method": cell.method,
        "dataset": cell.dataset,
        "backbone": cell.backbone,
        "epochs": cell.epochs,
        "scale": cell.scale,
        "network": cell.network,
        "reported": reported,
        "column": key,
        "n": cell.n,
        "seeds": " ".join(map(str, cell.seeds)),
        "mean": "" if cell.mean is None else f"{cell.mean:.4f}",
        "std": "" if cell.std is None else f"{cell.std:.4f}",
        "values": " ".join(f"{v:.4f}" for v in cell.values),
        "published": "" if pub is None else pub.value,
        "reason": (cell.not_comparable_reason or "") if pub else "",
        "corruption_source": "; ".join(sorted(_sources(collected, cell))) if key in CORRUPTION_KEYS else "",
        "errors": " | ".join(cell.errors),
    }


# --- the occlusion figure ------------------------------------------------------------------------


@dataclass(frozen=True)
class OcclusionSeries:
    method: str  # as the table shows it
    network: str
    shares: list[float]  # occluded share of the image, 0..1
    mean: list[float]  # top-1 (%) at each share, mean over seeds
    low: list[float]  # lowest seed
    high: list[float]  # highest seed
    area: float  # mean of the seeds' areas
    seeds: int


def occlusion_series(collected: RobustnessCells) -> dict[Group, list[OcclusionSeries]]:
    """Per table group, one curve per method (its reported network), from the stored records;
    seeds evaluated at other shares than the first seed's are left out of the curve."""
    curves: dict[tuple[Group, str], list[dict[str, Any]]] = {}
    for job, store in collected.stores:
        network = reported_network(job)
        record = store.get("occlusion", {}).get(network)
        if record:
            curves.setdefault((_group(job), job.method), []).append({**record, "network": network})
    out: dict[Group, list[OcclusionSeries]] = {}
    for (group, method), found in curves.items():
        same = [r for r in found if r["shares"] == found[0]["shares"]]
        by_share = list(zip(*(r["curve_top1"] for r in same)))
        first = collected.reported[group, method][PAPER[0]]
        out.setdefault(group, []).append(
            OcclusionSeries(
                method=display_name(first),
                network=same[0]["network"],
                shares=same[0]["shares"],
                mean=[sum(v) / len(v) for v in by_share],
                low=[min(v) for v in by_share],
                high=[max(v) for v in by_share],
                area=sum(r["auc"] for r in same) / len(same),
                seeds=len(same),
            )
        )
    return out


def draw_occlusion(series: dict[Group, list[OcclusionSeries]], title: str, path: Path) -> Path:
    """One panel per table group: top-1 against the occluded share, a line per method (mean over
    seeds, band from the lowest to the highest seed), its area in the legend."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.2 * len(series), 4.4), dpi=120, layout="constrained")
    axes = fig.subplots(1, len(series), squeeze=False)[0]
    for ax, (group, curves) in zip(axes, series.items()):
        for s in curves:
            x = [100 * v for v in s.shares]
            label = f"{s.method}" + (f" ({s.network})" if s.network != "online" else "")
            line = ax.plot(x, s.mean, marker="o", ms=3, label=f"{label}: area {s.area:.2f} (n={s.seeds})")[0]
            if s.seeds > 1:
                ax.fill_between(x, s.low, s.high, color=line.get_color(), alpha=0.15, lw=0)
        ax.set(xlabel="occluded share of the image (%)", ylabel="top-1 (%)", xlim=(0, 100), ylim=(0, 100))
        ax.set_title(_group_title(group), fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=10)
    figures.save(fig, path, dpi=fig.dpi)
    return path


# --- the report --------------------------------------------------------------------------------


def command_line(origin: str, config: Any) -> str:
    """`bench robustness ORIGIN` with the flags that give `config` (evaluators, then every setting
    that is not its default), for the report to say how to reproduce it."""
    import dataclasses

    parts = ["bench robustness", origin, *(f"--{name}" for name in config.evaluators)]
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if "flag" not in f.metadata or value == f.default:
            continue
        if f.metadata.get("negate"):
            parts.append(f.metadata["flag"])
        elif isinstance(value, tuple):
            parts.append(f"{f.metadata['flag']} {','.join(f'{v:g}' for v in value)}")
        else:
            parts.append(
                f"{f.metadata['flag']} {value:g}"
                if isinstance(value, float)
                else f"{f.metadata['flag']} {value}"
            )
    return " ".join(parts)


def write_report(
    entries: list[tuple[Job, Path]],
    config: Any,
    settings: Any,
    *,
    name: str,
    origin: str,
    errors: dict[Path, str] | None = None,
) -> tuple[Path, Path]:
    """reports/<name>.md and .csv (and <name>-occlusion.png when occlusion was evaluated)."""
    from bench.report.collect import published_rows

    rows, suites_dir = published_rows(settings), Path(settings.base_dir) / "suites"
    collected = collect(entries, rows, suites_dir, errors=errors, mce_baseline=config.mce_baseline)
    out_dir, title = settings.reports_dir, f"Robustness: {name.removesuffix('-robustness')}"
    note = (
        f"Generated by `{command_line(origin, config)}` (from the run folders' `robustness.json`); do not edit "
        "by hand. Shaped like AdAutoMix's robustness table (ICLR 2024, Table 3). pub. = published value "
        "(`results/published/`), Δ = ours − published where comparable, n/c = not comparable (see notes)."
    )
    if config.mce_baseline:
        note += f" mCE baseline: `{config.mce_baseline}`."
    series = occlusion_series(collected)
    if series:
        note += f" Occlusion curves: `{name}-occlusion.png`."
    text = markdown(collected, title=title, source_note=note)
    reference = published_reference(collected, rows)
    if reference:
        text = text.rstrip() + "\n\n" + "\n".join(reference)
    with staged(out_dir) as stage:  # every file of the report or none
        if series:
            draw_occlusion(series, title, stage / f"{name}-occlusion.png")
        safe_io.write_text(stage / f"{name}.md", text.rstrip() + "\n")
        safe_io.write_text(stage / f"{name}.csv", csv_text(collected))
    md_path, csv_path = out_dir / f"{name}.md", out_dir / f"{name}.csv"
    return md_path, csv_path
