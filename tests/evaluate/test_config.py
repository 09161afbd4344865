"""The evaluator table: every row complete and consistent with the suite schema and the command."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from bench import schema
from bench.cli import parser
from bench.errors import ConfigError
from bench.evaluate.config import EVALUATORS, OPTIONAL, RobustnessConfig


@pytest.mark.parametrize("name", list(EVALUATORS))
def test_each_evaluators_settings_are_keys_of_the_robustness_section(name: str) -> None:
    """A settings field means the same key, with the same type and default, in a suite."""
    config_fields = {f.name: f for f in dataclasses.fields(RobustnessConfig)}
    config_types = schema.fields_of(RobustnessConfig)
    settings_types = schema.fields_of(EVALUATORS[name].settings)
    for f in dataclasses.fields(EVALUATORS[name].settings):
        assert f.name in config_fields, f"{name}: {f.name} is not a robustness key"
        assert config_types[f.name] == settings_types[f.name], (name, f.name)
        assert config_fields[f.name].default == f.default, (name, f.name)
    assert RobustnessConfig().settings(name) == EVALUATORS[name].settings()


@pytest.mark.parametrize("name", list(EVALUATORS))
def test_each_evaluator_has_a_function_columns_and_a_flag(name: str) -> None:
    evaluator = EVALUATORS[name]
    function = evaluator.load()
    assert callable(function) and list(inspect.signature(function).parameters)[:2] == ["context", "settings"]
    assert evaluator.columns and evaluator.help
    if name in OPTIONAL:
        assert hasattr(RobustnessConfig(), name)  # the on/off key of a suite
        args = parser().parse_args(["robustness", "x", f"--{name}"])
        assert getattr(args, name) is True


def test_column_keys_are_unique() -> None:
    keys = [c.key for e in EVALUATORS.values() for c in e.columns]
    assert len(keys) == len(set(keys))


def test_the_corruption_evaluator_version_follows_the_generation_scheme() -> None:
    from bench.data.corruptions_generated import GENERATION_SCHEME

    assert EVALUATORS["corruption"].version == GENERATION_SCHEME


def test_bad_values_name_their_key() -> None:
    with pytest.raises(ConfigError, match="occlusion_ratios must be in"):
        schema.build(RobustnessConfig, {"occlusion": True, "occlusion_ratios": [0, 1.5]}, "robustness")
    with pytest.raises(ConfigError, match=r"eps_255 must be in \(0, 255\]"):
        schema.build(RobustnessConfig, {"eps_255": 0}, "robustness")
    config = schema.build(RobustnessConfig, {"occlusion": True, "pgd": True}, "robustness")
    assert config.evaluators == ["pgd", "occlusion"]


def test_docs_robustness_names_every_evaluator_and_every_setting() -> None:
    """docs/robustness.md's table of evaluators cannot drift from the table in config.py."""
    from pathlib import Path

    text = (Path(__file__).parent.parent.parent / "docs" / "robustness.md").read_text()
    for name, evaluator in EVALUATORS.items():
        assert f"| {name} |" in text, name
        for f in dataclasses.fields(evaluator.settings):
            assert f"`{f.name}`" in text, (name, f.name)
        for col in evaluator.columns:
            assert col.title in text, (name, col.title)
    for f in dataclasses.fields(RobustnessConfig):
        if "flag" in f.metadata:
            assert f.metadata["flag"] in text, f.metadata["flag"]
