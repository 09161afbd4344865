"""How reports name rows and columns: the paper's spelling, and the parameters a row changes.

A row's name says which parameters differ from the method's defaults ("MixUp (α=0.4)"), so a
suite that changes α never reads as plain "MixUp". A parameter with one value in every column of
the row goes into the name (the first `IN_NAME` of them; the others and any that change from
column to column are listed by `parameter_notes`, below the table).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bench import registry, schema
from bench.report.collect import Cell, Column, column_of

SYMBOLS = {"alpha": "α", "beta": "β", "lam": "λ", "lambda": "λ", "eps": "ε", "gamma": "γ", "mix_samples": "N"}
IN_NAME = 3  # parameters shown in a row's name; the rest go to the notes


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


def short_name(column: Column) -> str:
    """'CIFAR-100 · ResNet-18 · 800 ep', for lists in the notes."""
    dataset, backbone, epochs = column
    return (
        f"{registry.published_name('datasets', dataset)} · "
        f"{registry.published_name('backbones', backbone)} · {epochs} ep"
    )


def show_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show_value(v) for v in value) + "]"
    return str(value)


def non_default(cell: Cell) -> dict[str, Any]:
    """The cell's method parameters that differ from the method's defaults, in declaration order."""
    if not cell.params:
        return {}
    try:
        cls = registry.get("methods", cell.method_name).load()
        defaults = schema.to_plain(cls.Params())
    except Exception:  # an unregistered or unloadable method: nothing to compare with
        return {}
    return {k: v for k, v in cell.params.items() if k in defaults and schema.to_plain(defaults[k]) != v}


def _setting(key: str, value: Any) -> str:
    return f"{SYMBOLS.get(key, key)}={show_value(value)}"


_DEFAULT = object()


def _shared(cells: Iterable[Cell]) -> tuple[dict[str, Any], set[str]]:
    """(parameters with one non-default value in every cell, parameters that vary or differ somewhere)."""
    cells = list(cells)
    per_cell = [non_default(c) for c in cells]
    keys = list(dict.fromkeys(k for d in per_cell for k in d))
    shared, varying = {}, set()
    for key in keys:
        values = [d.get(key, _DEFAULT) for d in per_cell]
        if all(v is not _DEFAULT for v in values) and all(v == values[0] for v in values):
            shared[key] = values[0]
        else:
            varying.add(key)
    return shared, varying


def row_name(cells: list[Cell]) -> str:
    """'MixUp (α=0.4)': the method and the non-default parameters its cells share (the first
    IN_NAME; '…' when there are more, listed in the notes)."""
    base = display_name(cells[0])
    shared, _ = _shared(cells)
    if not shared:
        return base
    items = [_setting(k, v) for k, v in shared.items()]
    more = ", …" if len(items) > IN_NAME else ""
    return f"{base} ({', '.join(items[:IN_NAME])}{more})"


def parameter_notes(cells: list[Cell], row_labels: list[str]) -> list[str]:
    """Per row, the non-default parameters its name does not show, grouped by the columns that
    share them: 'MixUp (α=0.8: CIFAR-100 · Swin-T · 200 ep; ...), (α=0.2: ImageNet-1K · ...)'."""
    lines = []
    for label in row_labels:
        mine = [c for c in cells if c.method == label]
        shown = dict(list(_shared(mine)[0].items())[:IN_NAME])
        groups: dict[str, list[str]] = {}
        for c in mine:
            rest = {k: v for k, v in non_default(c).items() if k not in shown}
            if rest:
                settings = ", ".join(_setting(k, v) for k, v in rest.items())
                groups.setdefault(settings, []).append(short_name(column_of(c)))
        if groups:
            lines.append(
                f"{row_name(mine)}: "
                + "; ".join(
                    f"{settings} ({'every column' if len(where) == len(mine) else ', '.join(where)})"
                    for settings, where in groups.items()
                )
                + "."
            )
    return lines
