"""Published top-1 values by suite cell, for the leaderboard, `bench compare` and `bench evaluate`.

The rows come from the one published table (`bench.published.table`, `results/published/published.csv`),
which validates them; this module only groups its top-1 rows by (dataset, backbone, method,
epochs), the paper's primary value first, and shapes them as `Published`. Rows are matched to our
cells through registry names; a method the registry does not know (SAMix, say) keeps its
normalised published name, so `bench evaluate` can still compare a released checkpoint of it.

Rows measured under another training recipe for the same (dataset, backbone, budget) are left out:
OpenMixup's ImageNet page lists ResNet-50 at 100 epochs under both the PyTorch-style recipe (SGD,
224 px, the one the papers' tables use) and timm's RSB A3 recipe (LAMB, BCE, 160 px), and the latter
would otherwise read as a conflicting published value for every PyTorch-style cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bench import registry
from bench.published import table as published_table

# Recipes the harness does not train, as the tables' names say (see the module docstring).
OTHER_RECIPES = re.compile(r"timm RSB A[23]")


@dataclass(frozen=True)
class Published:
    value: float
    source: str
    file: str
    reducer: str
    network: str
    notes: str
    role: str = "primary"  # the row's role in its table (a secondary row: another copy of the cell)

    @property
    def conflict(self) -> bool:
        """Its verification found another source giving another value for the same cell."""
        return "[CONFLICT" in self.notes or "differs:" in self.notes


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


def load(folder: Path, metric: str = "top1") -> dict[tuple[str, str, str, int], list[Published]]:
    """(dataset, backbone, method, epochs) in registry names -> published rows of `metric` (clean
    top-1 by default; the robustness table asks for its columns' metrics), primary first."""
    table: dict[tuple[str, str, str, int], list[Published]] = {}
    rows = [
        r for r in published_table.load(folder) if r.metric == metric and not OTHER_RECIPES.search(r.table)
    ]
    for row in sorted(rows, key=lambda r: r.role != "primary"):  # stable: file order within a role
        differs = row.checks.get("differs")
        entry = Published(
            row.value,
            row.table,
            row.source,
            row.reducer,
            row.network,
            f"differs: {differs}" if differs else row.notes,
            row.role,
        )
        entries = table.setdefault(row.cell, [])
        if all(e.value != entry.value or e.source != entry.source for e in entries):
            entries.append(entry)
    return table


def registry_name(kind: str, text: str) -> str | None:
    """The registry name that a published table's spelling (e.g. "ResNeXt-50(32x4d)") refers to."""
    return _alias_map(kind).get(_norm(text))
