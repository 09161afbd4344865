"""The robustness table, shaped like AdAutoMix's Table 3 (Clean Acc ↑, Corruption Acc ↑, FGSM
Error ↓), from the runs' `robustness.json`, with the published values beside ours.

One table per (dataset, backbone, budget); rows are methods with the network the suite reports
(as in the leaderboard), mean ± sample std over seeds. Extra columns appear when measured:
Corr. Acc over the 15 main corruptions (RobustBench's aggregate), mCE against a named baseline,
PGD and AutoAttack error, ECE. A second table lists every network a method reports (online, EMA
teacher, ...). A published value is shown only for the same dataset and method, and a Δ only where
it is comparable; otherwise a footnote says why (backbone, reducer or network not stated, FGSM
convention, generated corruptions, reduced scale).
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import records, registry, safe_io
from bench.evaluate import corruption as corruption_mod
from bench.evaluate.robustness import read_store
from bench.job import Job
from bench.published import table as published_table
from bench.published.table import PublishedRow
from bench.report.collect import resolve_network
from bench.report.leaderboard import _fmt
from bench.report.published import registry_name

# key -> (column title, evaluator, field in its record); the first three are the paper's table
COLUMNS = {
    "clean": ("Clean Acc ↑", "clean", "top1"),
    "corruption": ("Corruption Acc ↑", "corruption", "cacc19"),
    "fgsm": ("FGSM Error ↓", "fgsm", "error"),
    "cacc15": ("Corr. Acc 15 ↑", "corruption", "cacc15"),
    "mce": ("mCE ↓", "corruption", None),
    "pgd": ("PGD Error ↓", "pgd", "error"),
    "autoattack": ("AutoAttack Error ↓", "autoattack", "error"),
    "ece": ("ECE ↓", "ece", "ece"),
}
PAPER = ("clean", "corruption", "fgsm")
PUBLISHED_METRICS = {"top1": "clean", "top1_corruption": "corruption", "fgsm_error": "fgsm"}
FGSM_CONVENTION = (
    "FGSM convention differs: the AdAutoMix code adds the step to the normalised tensor and clamps "
    "it to [0, 1] there (a weaker, distorted attack); ours steps ε in [0, 1] pixel space"
)


@dataclass(frozen=True)
class PublishedValue:
    value: float
    source: str
    backbone: str  # as the source writes it
    reducer: str
    network: str
    notes: str


def _robustness_rows(folder: Path) -> list[PublishedRow]:
    """The published table's rows of robustness tables (those with a corruption or FGSM column):
    their clean, corruption and FGSM values, for methods the registry knows."""
    rows = published_table.load(folder)
    tables = {r.table for r in rows if r.metric in ("top1_corruption", "fgsm_error")}
    return [
        r
        for r in rows
        if r.table in tables
        and r.metric in PUBLISHED_METRICS
        and registry_name("methods", r.method) is not None
    ]


def load_published(folder: Path) -> dict[tuple[str, str], dict[str, PublishedValue]]:
    """(dataset, method) in registry names -> column key -> the published robustness value."""
    table: dict[tuple[str, str], dict[str, PublishedValue]] = {}
    for row in _robustness_rows(folder):
        entry = PublishedValue(row.value, row.source, row.backbone, row.reducer, row.network, row.notes)
        table.setdefault((row.dataset, row.method), {}).setdefault(PUBLISHED_METRICS[row.metric], entry)
    return table


@dataclass
class Row:
    method: str
    method_name: str
    dataset: str
    backbone: str
    epochs: int
    scale: float
    full_data: bool
    network: str  # the reported network (may name alternatives, 'ema|ema_mix') or one network
    values: dict[str, list[float]] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=list)
    networks_used: list[str] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)  # corruption sources
    generated: bool = False
    settings: dict[str, set[str]] = field(default_factory=dict)  # evaluator -> distinct settings (JSON)
    errors: list[str] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)  # seeds with no robustness record
    published: dict[str, PublishedValue] = field(default_factory=dict)

    def mean(self, key: str) -> float | None:
        values = self.values.get(key, [])
        return statistics.fmean(values) if values else None

    def std(self, key: str) -> float | None:
        values = self.values.get(key, [])
        return statistics.stdev(values) if len(values) > 1 else None

    def reasons(self, key: str) -> list[str]:
        """Why our `key` column must not be compared with its published value ([] = comparable)."""
        pub = self.published.get(key)
        if pub is None:
            return []
        out = []
        if self.scale < 1:
            out.append(f"reduced scale x{self.scale:g}")
        if not self.full_data:
            out.append("trained or tested on a subset of the data")
        backbone = registry_name("backbones", pub.backbone)
        if backbone is None:
            out.append(f"the paper does not state the backbone ({pub.backbone})")
        elif backbone != self.backbone:
            out.append(f"backbone differs (published {backbone})")
        if pub.reducer in ("", "unknown"):
            out.append("the paper does not state the checkpoint or reducer (ours: the final checkpoint)")
        if pub.network in ("", "unknown"):
            out.append(
                f"the paper does not state the network (ours: {'/'.join(sorted(set(self.networks_used))) or self.network})"
            )
        if key == "corruption" and self.generated:
            out.append("ours is on generated corruptions (ImageNet-C parameters), not the released set")
        if key == "fgsm":
            out.append(FGSM_CONVENTION)
        return out


def _value(store: dict[str, Any], key: str, network: str) -> float | None:
    _, evaluator, name = COLUMNS[key]
    record = store.get("evaluations", {}).get(evaluator, {}).get(network)
    return None if record is None or name is None else record.get(name)


def _pick(store: dict[str, Any], network: str) -> str | None:
    """The network to report: the one named, or of alternatives 'a|b' the one with the best clean top-1."""
    options = [n for n in network.split("|") if n]
    scored = [(v, n) for n in options if (v := _value(store, "clean", n)) is not None]
    return max(scored)[1] if scored else None


def _baseline_dir(job: Job, run_dir: Path, entries: list[tuple[Job, Path]], baseline: str) -> Path | None:
    as_path = Path(baseline)
    if as_path.is_dir():
        return as_path
    for other, other_dir in entries:
        if (other.method, other.dataset, other.backbone, other.seed) == (
            baseline,
            job.dataset,
            job.backbone,
            job.seed,
        ):
            return other_dir
    return None


def _mce(store: dict[str, Any], network: str, baseline_dir: Path | None) -> float | None:
    ours = store.get("evaluations", {}).get("corruption", {}).get(network)
    if ours is None or baseline_dir is None:
        return None
    base_store = read_store(baseline_dir)
    base_job = records.read_spec(baseline_dir)
    base_network = _pick(base_store, resolve_network(base_job))
    base = base_store.get("evaluations", {}).get("corruption", {}).get(base_network or "")
    if base is None or base.get("source") != ours.get("source"):
        return None  # never divide errors measured on different corrupted sets
    return corruption_mod.mce(ours["cells"], base["cells"])


def collect(
    entries: list[tuple[Job, Path]],
    published_dir: Path,
    *,
    errors: dict[Path, str] | None = None,
    mce_baseline: str | None = None,
) -> tuple[list[Row], list[Row]]:
    """(rows with each method's reported network, rows for every evaluated network)."""
    published = load_published(published_dir)
    errors = errors or {}
    reported: dict[tuple, Row] = {}
    every: dict[tuple, Row] = {}

    def row_for(table: dict[tuple, Row], job: Job, network: str) -> Row:
        key = (job.dataset, job.backbone, job.nominal_epochs, job.method, network)
        if key not in table:
            table[key] = Row(
                method=job.method,
                method_name=job.method_name,
                dataset=job.dataset,
                backbone=job.backbone,
                epochs=job.nominal_epochs,
                scale=job.scale,
                full_data=job.recipe.full_data,
                network=network,
                published=published.get((job.dataset, job.method_name), {}),
            )
        return table[key]

    for job, run_dir in entries:
        spec_network = resolve_network(job)
        row = row_for(reported, job, spec_network)
        store = read_store(run_dir)
        if run_dir in errors:
            row.errors.append(f"seed {job.seed}: {errors[run_dir]}")
        if store.get("run_id") != job.id or not store.get("evaluations"):
            if run_dir not in errors:
                row.missing.append(job.seed)
            continue
        chosen = _pick(store, spec_network)
        networks = sorted({n for per in store["evaluations"].values() for n in per})
        baseline = _baseline_dir(job, run_dir, entries, mce_baseline) if mce_baseline else None
        for network in networks:
            targets = [row_for(every, job, network)] + ([row] if network == chosen else [])
            for target in targets:
                target.seeds.append(job.seed)
                target.networks_used.append(network)
                for key in COLUMNS:
                    value = _mce(store, network, baseline) if key == "mce" else _value(store, key, network)
                    if value is not None:
                        target.values.setdefault(key, []).append(value)
                for evaluator, per in store["evaluations"].items():
                    if network in per:
                        target.settings.setdefault(evaluator, set()).add(
                            json.dumps(per[network].get("settings"), sort_keys=True)
                        )
                corr = store["evaluations"].get("corruption", {}).get(network)
                if corr:
                    target.sources.add(corr.get("source", "?"))
                    target.generated |= bool(corr.get("generated"))
    return list(reported.values()), list(every.values())


# --- rendering ---------------------------------------------------------------------------------


def _columns(rows: Iterable[Row]) -> list[str]:
    measured = {k for r in rows for k in r.values}
    return [k for k in COLUMNS if k in PAPER or k in measured]


CORRUPTION_KEYS = ("corruption", "cacc15", "mce")


def _cell(row: Row, key: str) -> str:
    if key in CORRUPTION_KEYS and len(row.sources) > 1:
        return "mixed sources (see CSV)"  # never average a released set with a generated one
    mean = row.mean(key)
    if mean is None:
        return "error" if row.errors and not row.seeds else "—"
    std = row.std(key)
    return _fmt(mean) + (f" ± {_fmt(std)}" if std is not None else "")


def _group_title(row: Row) -> str:
    return (
        f"{registry.published_name('datasets', row.dataset)} · {registry.published_name('backbones', row.backbone)}"
        f" · {row.epochs} epoch{'s' if row.epochs != 1 else ''}"
        + (f" · scale ×{row.scale:g}" if row.scale < 1 else "")
    )


def _name(row: Row) -> str:
    return (
        registry.published_name("methods", row.method_name) if row.method == row.method_name else row.method
    )


def markdown(reported: list[Row], every: list[Row], *, title: str, source_note: str) -> str:
    footnotes: dict[str, int] = {}

    def footnote(reason: str) -> str:
        footnotes.setdefault(reason, len(footnotes) + 1)
        return f"[{footnotes[reason]}]"

    lines = [f"# {title}", "", source_note, ""]
    groups = list(dict.fromkeys((r.dataset, r.backbone, r.epochs, r.scale) for r in reported))
    for group in groups:
        rows = [r for r in reported if (r.dataset, r.backbone, r.epochs, r.scale) == group]
        columns = _columns(rows)
        lines += [f"## {_group_title(rows[0])}", ""]
        sources = sorted({s for r in rows for s in r.sources})
        if sources:
            lines += [f"Corrupted test set: {'; '.join(sources)}.", ""]
        header = ["Method", "Network", "n"]
        for key in columns:
            header += [COLUMNS[key][0]] + (["pub.", "Δ"] if key in PAPER else [])
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in rows:
            used = "/".join(sorted(set(row.networks_used))) or row.network
            n = (
                str(len(row.seeds))
                + (f" ({len(row.errors)} failed)" if row.errors else "")
                + (f" ({len(row.missing)} not evaluated)" if row.missing else "")
            )
            cells = [_name(row), used, n]
            for key in columns:
                cells.append(_cell(row, key))
                if key not in PAPER:
                    continue
                pub = row.published.get(key)
                cells.append("—" if pub is None else _fmt(pub.value))
                reasons = row.reasons(key)
                if pub is None or row.mean(key) is None:
                    cells.append("—")
                elif reasons:
                    cells.append("n/c " + footnote("; ".join(reasons)))
                else:
                    cells.append(f"{row.mean(key) - pub.value:+.2f}")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    multi = [
        r
        for r in every
        if sum(
            1
            for o in every
            if (o.method, o.dataset, o.backbone, o.epochs) == (r.method, r.dataset, r.backbone, r.epochs)
        )
        > 1
    ]
    if multi:
        columns = _columns(multi)
        lines += [
            "## Every evaluated network",
            "",
            "| Method | Dataset · Backbone | Network | " + " | ".join(COLUMNS[k][0] for k in columns) + " |",
        ]
        lines.append("|" + "---|" * (3 + len(columns)))
        for row in multi:
            where = f"{registry.published_name('datasets', row.dataset)} · {registry.published_name('backbones', row.backbone)}"
            lines.append(
                f"| {_name(row)} | {where} | {row.network} | "
                + " | ".join(_cell(row, k) for k in columns)
                + " |"
            )
        lines.append("")
    lines += _notes(reported, footnotes)
    return "\n".join(lines).rstrip() + "\n"


def _settings_line(rows: list[Row], evaluator: str, describe) -> str | None:
    specs = sorted({s for r in rows for s in r.settings.get(evaluator, set())})
    if not specs:
        return None
    return "; ".join(describe(json.loads(s)) for s in specs)


def _notes(rows: list[Row], footnotes: dict[str, int]) -> list[str]:
    out = ["Notes:", ""]
    out.append(
        "- Clean Acc: top-1 (%) of the final checkpoint on the run's test split (not the leaderboard's "
        "reducer over epochs). Network: the one the suite reports; of alternatives (`ema|ema_mix`) the one "
        "with the higher clean top-1. n: seeds evaluated; mean ± sample std over them."
    )
    sources = sorted({s for r in rows for s in r.sources})
    if sources:
        out.append(
            "- Corruption Acc: pooled top-1 over all 19 corruptions × 5 severities (AdAutoMix's definition); "
            "Corr. Acc 15: mean over the 15 main corruptions × 5 severities (RobustBench's). Computed on: "
            + "; ".join(sources)
            + "."
        )
    line = _settings_line(
        rows,
        "fgsm",
        lambda s: f"ε = {s['eps_255']:g}/255, 1 step, no random start, {s['images']} images, {s['space']}",
    )
    if line:
        out.append(f"- FGSM Error = 100 − top-1 on FGSM examples over the whole test split: {line}.")
    line = _settings_line(
        rows,
        "pgd",
        lambda s: (
            f"ε = {s['eps_255']:g}/255, {s['steps']} steps of {s['step_size_255']:g}/255, "
            f"{'random start' if s['random_start'] else 'no random start'}, {s['restarts']} restart(s), seed {s['seed']}, {s['images']} images"
        ),
    )
    if line:
        out.append(f"- PGD Error = 100 − top-1 under L∞ PGD: {line}.")
    line = _settings_line(
        rows,
        "autoattack",
        lambda s: (
            f"ε = {s['eps_255']:g}/255, version {s['version']}, seed {s['seed']}, {s['images']} images, {s['implementation']}"
        ),
    )
    if line:
        out.append(f"- AutoAttack Error = 100 − robust top-1: {line}.")
    line = _settings_line(rows, "ece", lambda s: f"{s['bins']} equal-width bins")
    if line:
        out.append(
            f"- ECE (%): {line}, right-closed, weighted by bin size (the standard definition; not the "
            "AdAutoMix code's sorted variant). Reliability diagrams: `reliability.png` in each run folder."
        )
    if any("mce" in r.values for r in rows):
        out.append(
            "- mCE (%): Σ_s E(c,s) / Σ_s E_baseline(c,s) averaged over the 15 main corruptions; baseline named in the header."
        )
    for reason, number in footnotes.items():
        out.append(f"- [{number}] not comparable: {reason}.")
    failures = [(r, e) for r in rows for e in r.errors]
    if failures:
        out += ["", "Failed evaluations:", ""]
        out += [f"- {r.method} / {r.backbone} / {r.dataset}, {e.splitlines()[0]}" for r, e in failures]
    return out


def published_reference(folder: Path) -> list[str]:
    """The published robustness table as printed, for reference below ours."""
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for row in _robustness_rows(folder):
        entry = rows.setdefault((row.source, registry.published_name("methods", row.method)), {})
        entry[PUBLISHED_METRICS[row.metric]] = f"{row.value:.2f}"
        entry["backbone"] = f"{registry.published_name('backbones', row.backbone)}, {row.epochs} ep"
        entry["dataset"] = registry.published_name("datasets", row.dataset)
    if not rows:
        return []
    lines = [
        "## Published (for reference)",
        "",
        "| Source | Dataset | Method | Clean Acc ↑ | Corruption Acc ↑ | FGSM Error ↓ | Backbone |",
        "|---|---|---|---|---|---|---|",
    ]
    for (source, method), values in rows.items():
        lines.append(
            f"| {source} | {values.get('dataset', '—')} | {method} | {values.get('clean', '—')} | {values.get('corruption', '—')} | {values.get('fgsm', '—')} | {values['backbone']} |"
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
    "n",
    "seeds",
    *[f"{k}_{stat}" for k in COLUMNS for stat in ("mean", "std")],
    *[f"{k}_published" for k in PAPER],
    *[f"{k}_reason" for k in PAPER],
    "corruption_source",
    "errors",
]


def csv_text(reported: list[Row], every: list[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    chosen = {(r.method, r.dataset, r.backbone, r.epochs, n) for r in reported for n in r.networks_used}
    for row in every + [r for r in reported if not r.seeds]:
        record: dict[str, Any] = {
            "method": row.method,
            "dataset": row.dataset,
            "backbone": row.backbone,
            "epochs": row.epochs,
            "scale": row.scale,
            "network": row.network,
            "reported": (row.method, row.dataset, row.backbone, row.epochs, row.network) in chosen,
            "n": len(row.seeds),
            "seeds": " ".join(map(str, row.seeds)),
            "corruption_source": "; ".join(sorted(row.sources)),
            "errors": " | ".join(row.errors),
        }
        for key in COLUMNS:
            mean, std = row.mean(key), row.std(key)
            record[f"{key}_mean"] = "" if mean is None else f"{mean:.4f}"
            record[f"{key}_std"] = "" if std is None else f"{std:.4f}"
        for key in PAPER:
            pub = row.published.get(key)
            record[f"{key}_published"] = "" if pub is None else pub.value
            record[f"{key}_reason"] = "; ".join(row.reasons(key))
        writer.writerow(record)
    return buffer.getvalue()


def write(
    reported: list[Row],
    every: list[Row],
    out_dir: Path,
    name: str,
    *,
    title: str,
    source_note: str,
    published_dir: Path,
) -> tuple[Path, Path]:
    md_path, csv_path = out_dir / f"{name}.md", out_dir / f"{name}.csv"
    text = markdown(reported, every, title=title, source_note=source_note)
    reference = published_reference(published_dir)
    if reference:
        text = text.rstrip() + "\n\n" + "\n".join(reference)
    safe_io.write_text(md_path, text.rstrip() + "\n")
    safe_io.write_text(csv_path, csv_text(reported, every))
    return md_path, csv_path
