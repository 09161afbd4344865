"""The registry: every name given once, every fact about a method or backbone in one place."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bench import registry
from bench.errors import BenchError
from bench.methods.base import Kind, Method, Paper

PACKAGE = Path(registry.__file__).parent


@pytest.mark.parametrize("name", list(registry.METHODS))
def test_every_method_states_its_facts(name: str) -> None:
    cls = registry.get("methods", name).load()
    assert issubclass(cls, Method) and not hasattr(cls, "name")  # the registry gives the name, once
    assert isinstance(cls.paper, Paper) and cls.paper.cite
    assert isinstance(cls.kind, Kind)
    assert (cls.cost_target is None) == (cls.kind is Kind.NONE)  # vanilla is the reference
    assert cls.cost_basis() in ("vanilla", "passes")
    assert cls.primary_network.split("|")[0] in cls.networks


@pytest.mark.parametrize("name", list(registry.BACKBONES))
def test_every_backbone_states_its_family_and_weights(name: str) -> None:
    entry = registry.get("backbones", name)
    assert entry.family in registry.FAMILIES
    assert entry.weights == "" or entry.weights.startswith("https://")


def _listed_names(node: ast.AST, names: set[str]) -> list[str]:
    """The registered names among a literal list, tuple, set or dict's elements or keys."""
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = node.elts
    elif isinstance(node, ast.Dict):
        items = [k for k in node.keys if k is not None]
    else:
        return []
    return [i.value for i in items if isinstance(i, ast.Constant) and i.value in names]


def test_no_module_but_the_registry_lists_methods_or_backbones() -> None:
    """A list of method or backbone names outside the registry is a second copy of a fact that
    belongs to the method's class or the backbone's entry (a single default name is fine)."""
    names = set(registry.METHODS) | set(registry.BACKBONES)
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "registry.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            listed = _listed_names(node, names)
            if len(listed) >= 2:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {listed}")
    assert not found, "lists of registered names outside bench/registry.py:\n" + "\n".join(found)


def test_unknown_names_answer_with_close_matches() -> None:
    with pytest.raises(BenchError, match="snapmx") as info:
        registry.get("methods", "snapmx")
    assert "snapmix" in str(info.value)


def test_families_are_known_only_for_registered_backbones() -> None:
    assert registry.family("resnet18") is registry.FAMILIES["resnet"]
    assert registry.family("vit_small") is None
