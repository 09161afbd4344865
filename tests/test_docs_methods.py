"""docs/methods.md against the registry and each method's class: every method, its paper, kind,
parameters and cost target, so the page cannot drift from the code."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from bench import registry

DOC = Path(__file__).parents[1] / "docs" / "methods.md"


def section(name: str) -> str:
    """The text under the `### ` heading that names the method (a heading may name several)."""
    text = DOC.read_text()
    parts = re.split(r"^### ", text, flags=re.M)
    found = [p for p in parts[1:] if f"`{name}`" in p.splitlines()[0]]
    assert found, f"{DOC} has no section for {name}"
    return found[0]


def glance_row(name: str) -> list[str]:
    rows = [line for line in DOC.read_text().splitlines() if line.startswith(f"| `{name}` |")]
    assert len(rows) == 1, f"{DOC}: the table at a glance needs exactly one row for {name}"
    return [cell.strip() for cell in rows[0].strip("|").split("|")]


@pytest.mark.parametrize("name", list(registry.METHODS))
def test_every_method_is_documented_with_its_facts(name: str) -> None:
    cls = registry.get("methods", name).load()
    _, kind, _, arxiv, _, target = glance_row(name)
    assert kind == cls.kind.value
    assert arxiv == (cls.paper.arxiv or "—")
    if cls.paper.arxiv:
        assert cls.paper.arxiv in section(name)
    if cls.cost_target is None:
        assert target == "—"
    else:
        assert target.startswith(f"≤ {cls.cost_target:.2f}")
        assert target.endswith("× passes") == (cls.cost_basis() == "passes")


@pytest.mark.parametrize("name", list(registry.METHODS))
def test_every_parameter_is_documented(name: str) -> None:
    cls = registry.get("methods", name).load()
    text = section(name)
    missing = [f.name for f in dataclasses.fields(cls.Params) if f"`{f.name}`" not in text]
    assert not missing, f"{DOC}, section {name}: parameters not documented: {missing}"
