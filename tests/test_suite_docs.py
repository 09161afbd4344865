"""docs/suite-format.md against the suite schema: every key with its default, and every example a
suite that loads and expands (so the reference cannot drift from the code)."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench import schema
from bench import suite as suite_mod
from bench.recipe import Recipe
from bench.suite import SuiteFile

DOC = Path(__file__).parents[1] / "docs" / "suite-format.md"
REQUIRED = "required"
ROW = re.compile(r"^\| `(?P<key>[^`]+)` \| (?P<type>[^|]*) \| (?P<default>[^|]*) \|")


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return REQUIRED


def _dataclass_in(tp: Any) -> type | None:
    for option in (tp, *typing.get_args(tp)):
        if dataclasses.is_dataclass(option):
            return option
    return None


def schema_keys(cls: type = SuiteFile, prefix: str = "") -> dict[str, Any]:
    """Every key a suite file may set, dotted ('recipe.optimizer.lr'; 'overrides[].source'), with
    its default as plain data. `recipe` is a mapping validated as a Recipe, so its keys are
    Recipe's. A section whose default is a mapping of its keys' defaults has no row of its own."""
    hints = typing.get_type_hints(cls)
    keys: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        key, default = prefix + f.name, _default(f)
        inner = Recipe if cls is SuiteFile and f.name == "recipe" else _dataclass_in(hints[f.name])
        if inner is None:
            keys[key] = default if default == REQUIRED else schema.to_plain(default)
            continue
        listed = typing.get_origin(hints[f.name]) is list
        if default is None or listed or default == REQUIRED:
            keys[key] = default if default == REQUIRED else schema.to_plain(default)
        keys.update(schema_keys(inner, key + ("[]." if listed else ".")))
    return keys


def documented_keys() -> dict[str, str]:
    """key -> the default cell of docs/suite-format.md's reference table."""
    return {m["key"]: m["default"].strip() for m in map(ROW.match, DOC.read_text().splitlines()) if m}


def test_every_key_is_documented_with_its_default() -> None:
    expected, documented = schema_keys(), documented_keys()
    missing = sorted(set(expected) - set(documented))
    unknown = sorted(set(documented) - set(expected))
    assert not missing, f"keys of the suite schema missing from {DOC}: {missing}"
    assert not unknown, f"{DOC} documents keys the suite schema does not have: {unknown}"
    wrong = []
    for key, cell in documented.items():
        value = REQUIRED if cell == REQUIRED else yaml.safe_load(cell.strip("`"))
        if value != expected[key]:
            wrong.append(f"{key}: documented {cell}, schema {expected[key]!r}")
    assert not wrong, "\n".join(wrong)


def examples() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_reference_has_an_example_of_every_feature() -> None:
    text = "\n".join(examples())
    for feature in ("label:", "source:", "include:", "exclude:", "resources:", "report:", "robustness:"):
        assert feature in text, f"no example in {DOC} uses {feature}"


@pytest.mark.parametrize("index", range(len(examples())))
def test_every_example_is_a_valid_suite(index: int, tmp_path: Path) -> None:
    path = tmp_path / "suites" / "example.yaml"
    path.parent.mkdir()
    path.write_text(examples()[index])
    jobs = suite_mod.expand(suite_mod.load(path))
    assert jobs
