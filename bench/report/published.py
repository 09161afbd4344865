"""Published numbers as data: CSV rows with their source, reducer and network.

The CSVs in `results/published/` keep the provenance columns of the reference notes (source,
notes with verification tags such as [VERIFIED-2src] or [CONFLICT]) plus `reducer` and `network`
(see `results/published/annotate.py`). Rows are matched to our cells through the `published`
aliases in the registry, so "ResNeXt-50(32x4d)" and "ResNeXt-50" both find `resnext50_32x4d`.
A method the registry does not know (SAMix, say) is kept under its normalised published name, so
`bench evaluate` can still compare a released checkpoint of it with its published value.

Rows measured under another training recipe for the same (dataset, backbone, budget) are left out:
OpenMixup's ImageNet page lists ResNet-50 at 100 epochs under both the PyTorch-style recipe (SGD,
224 px, the one the papers' tables use) and timm's RSB A3 recipe (LAMB, BCE, 160 px), and the latter
would otherwise read as a conflicting published value for every PyTorch-style cell.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from bench import registry

# Where two sources disagree, the first file in this order is the primary value; the rest are shown too.
FILE_PRIORITY = ("adautomix_published.csv", "openmixup_benchmarks.csv")
# Recipes the harness does not train, as the sources' notes name them (see the module docstring).
OTHER_RECIPES = re.compile(r"timm RSB A[23] setting")


@dataclass(frozen=True)
class Published:
    value: float
    source: str
    file: str
    reducer: str
    network: str
    notes: str

    @property
    def conflict(self) -> bool:
        return "[CONFLICT" in self.notes


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _alias_map(kind: str) -> dict[str, str]:
    out = {}
    for name, entry in registry.KINDS[kind].items():
        for alias in (name, *entry.published):
            out[_norm(alias)] = name
    return out


def method_key(name: str) -> str:
    """The key `load` files a method under: its registry name, else its normalised spelling."""
    return _alias_map("methods").get(_norm(name), _norm(name))


def load(folder: Path) -> dict[tuple[str, str, str, int], list[Published]]:
    """(dataset, backbone, method, epochs) in registry names -> published top-1 rows, primary first."""
    datasets, backbones, methods = _alias_map("datasets"), _alias_map("backbones"), _alias_map("methods")
    table: dict[tuple[str, str, str, int], list[Published]] = {}
    files = sorted(
        folder.glob("*.csv"),
        key=lambda p: (FILE_PRIORITY.index(p.name) if p.name in FILE_PRIORITY else 99, p.name),
    )
    for path in files:
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                metric = row.get("metric", "")
                if (
                    not metric.startswith("top1") or metric == "top1_online_q"
                ):  # clean top-1 of the reported network
                    continue
                if OTHER_RECIPES.search(row.get("notes", "")):
                    continue
                try:
                    value, epochs = float(row["value"]), int(row.get("epochs") or 0)
                except (ValueError, KeyError):
                    continue
                key = (
                    datasets.get(_norm(row["dataset"])),
                    backbones.get(_norm(row["backbone"])),
                    methods.get(_norm(row["method"]), _norm(row["method"])),
                    epochs,
                )
                if None in key[:2]:
                    continue
                entry = Published(
                    value,
                    row["source"],
                    path.name,
                    row.get("reducer", "unknown"),
                    row.get("network", "unknown"),
                    row.get("notes", ""),
                )
                rows = table.setdefault(key, [])  # type: ignore[arg-type]
                if all(r.value != entry.value or r.source != entry.source for r in rows):
                    rows.append(entry)
    return table


def registry_name(kind: str, text: str) -> str | None:
    """The registry name that a published table's spelling (e.g. "ResNeXt-50(32x4d)") refers to."""
    return _alias_map(kind).get(_norm(text))


@dataclass(frozen=True)
class LegacyRow:
    """A row of the CSVs above in the shape of `bench.published.table.PublishedRow`, until that
    table replaces them. No row names the paper suite that states its conditions (`suite` is
    empty), so none is comparable: the conditions are unknown here."""

    table: str
    dataset: str
    backbone: str
    method: str
    epochs: int
    metric: str
    value: float
    reducer: str
    network: str
    role: str
    source: str
    locator: str
    verification: str
    suite: str
    notes: str


def rows(folder: Path) -> list[LegacyRow]:
    """Every clean top-1 row of `load`, primary source first within a cell."""
    out = []
    for (dataset, backbone, method, epochs), entries in load(folder).items():
        for i, p in enumerate(entries):
            out.append(
                LegacyRow(
                    table=p.file,
                    dataset=dataset,
                    backbone=backbone,
                    method=method,
                    epochs=epochs,
                    metric="top1",
                    value=p.value,
                    reducer=p.reducer,
                    network=p.network,
                    role="primary" if i == 0 else "secondary",
                    source=p.source,
                    locator=p.file,
                    verification=p.notes,
                    suite="",
                    notes=p.notes,
                )
            )
    return out
