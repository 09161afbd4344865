"""Render cells as a Markdown and a CSV leaderboard: rows are methods, columns (dataset, backbone).

Each column group has three columns: our mean ± std over seeds, the published value, and the
delta. A delta is printed only where the numbers are comparable (same budget, reducer and network,
full scale); otherwise the reason is given as a footnote. The best mean in a column is bold and
the second underlined.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from bench import registry, results
from bench.report.collect import Cell


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _columns(cells: list[Cell]) -> list[tuple[str, str, int]]:
    return list(dict.fromkeys((c.dataset, c.backbone, c.epochs) for c in cells))


def _rank_marks(cells: Iterable[Cell]) -> dict[str, str]:
    cells = list(cells)
    """method -> '**' for the best mean of the column, '<u>' for the second."""
    means = sorted({c.mean for c in cells if c.mean is not None}, reverse=True)
    marks = {}
    for c in cells:
        if c.mean is not None and means and c.mean == means[0] and len(means) > 1:
            marks[c.method] = "**"
        elif c.mean is not None and len(means) > 2 and c.mean == means[1]:
            marks[c.method] = "<u>"
    return marks


def _measured(cell: Cell, seeds_expected: int, mark: str) -> str:
    if cell.mean is None:
        return "error" if cell.errors else "not run"
    text = _fmt(cell.mean) + (f" ± {_fmt(cell.std)}" if cell.std is not None else "")
    if mark == "**":
        text = f"**{text}**"
    elif mark == "<u>":
        text = f"<u>{text}</u>"
    if cell.n != seeds_expected or cell.errors:
        text += f" (n={cell.n}" + (f", {len(cell.errors)} failed" if cell.errors else "") + ")"
    return text


def markdown(cells: list[Cell], *, title: str, seeds: int, source_note: str) -> str:
    columns = _columns(cells)
    methods = list(dict.fromkeys(c.method for c in cells))
    by_key = {(c.method, c.dataset, c.backbone, c.epochs): c for c in cells}
    footnotes: dict[str, int] = {}

    def footnote(reason: str) -> str:
        footnotes.setdefault(reason, len(footnotes) + 1)
        return f"[{footnotes[reason]}]"

    header = ["Method"]
    for dataset, backbone, epochs in columns:
        header += [
            f"{registry.published_name('datasets', dataset)} {registry.published_name('backbones', backbone)} ({epochs} ep)",
            "pub.",
            "Δ",
        ]
    lines = [f"# {title}", "", source_note, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    marks = {
        col: _rank_marks(c for c in cells if (c.dataset, c.backbone, c.epochs) == col) for col in columns
    }
    names = {
        c.method: registry.published_name("methods", c.method_name) if c.method == c.method_name else c.method
        for c in cells
    }
    for method in methods:
        row = [names[method]]
        for col in columns:
            cell = by_key.get((method, *col))
            if cell is None:
                row += ["", "", ""]
                continue
            pub = cell.primary
            pub_text = "—" if pub is None else _fmt(pub.value) + (" †" if len(cell.published) > 1 else "")
            reason = cell.not_comparable_reason
            if pub is None or cell.mean is None:
                delta = "—"
            elif reason:
                delta = "n/c " + footnote(reason)
            else:
                delta = f"{cell.delta:+.2f}"
            row += [_measured(cell, seeds, marks[col].get(method, "")), pub_text, delta]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines += _notes(cells, footnotes)
    return "\n".join(lines).rstrip() + "\n"


def _notes(cells: list[Cell], footnotes: dict[str, int]) -> list[str]:
    out = ["Notes:", ""]
    protocols = sorted({(c.reducer, c.network) for c in cells})
    for reducer, network in protocols:
        methods = sorted({c.method for c in cells if (c.reducer, c.network) == (reducer, network)})
        out.append(f"- Reducer `{reducer}` of network `{network}` for: {', '.join(methods)}.")
    for reason, number in footnotes.items():
        out.append(f"- [{number}] not comparable: {reason}.")
    conflicts = [c for c in cells if len(c.published) > 1]
    for c in conflicts:
        values = "; ".join(f"{p.value:.2f} ({p.source})" for p in c.published)
        out.append(f"- † {c.method} on {c.dataset}/{c.backbone}: published values disagree: {values}.")
    failures = [(c, e) for c in cells for e in c.errors]
    if failures:
        out += ["", "Failed jobs:", ""]
        out += [f"- {c.method} / {c.backbone} / {c.dataset}, {e.splitlines()[0]}" for c, e in failures]
    return out


CSV_FIELDS = [
    "method",
    "dataset",
    "backbone",
    "epochs",
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
    "delta",
    "comparable",
    "reason",
]


def csv_text(cells: list[Cell]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for c in cells:
        reason = c.not_comparable_reason
        writer.writerow(
            {
                "method": c.method,
                "dataset": c.dataset,
                "backbone": c.backbone,
                "epochs": c.epochs,
                "scale": c.scale,
                "reducer": c.reducer,
                "network": c.network,
                "n": c.n,
                "mean": _fmt(c.mean, 4) if c.mean is not None else "",
                "std": _fmt(c.std, 4) if c.std is not None else "",
                "values": " ".join(f"{v:.4f}" for v in c.values),
                "seeds": " ".join(map(str, c.seeds)),
                "errors": len(c.errors),
                "published": c.primary.value if c.primary else "",
                "published_source": c.primary.source if c.primary else "",
                "delta": f"{c.delta:.4f}" if c.delta is not None and not reason else "",
                "comparable": reason is None,
                "reason": reason or "",
            }
        )
    return buffer.getvalue()


def write(
    cells: list[Cell], out_dir: Path, name: str, *, title: str, seeds: int, source_note: str
) -> tuple[Path, Path]:
    md_path, csv_path = out_dir / f"{name}.md", out_dir / f"{name}.csv"
    results.write_text(md_path, markdown(cells, title=title, seeds=seeds, source_note=source_note))
    results.write_text(csv_path, csv_text(cells))
    return md_path, csv_path
