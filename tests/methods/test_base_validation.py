"""Bad method parameters are rejected when a suite is validated, naming the file, the method and
the key; a missing optional dependency is rejected by `bench run` before any job starts, while the
suite can still be planned and its leaderboard written."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from bench import suite as suite_mod
from bench.errors import ConfigError
from tests.conftest import write_suite

SUITE = """
name: s
axes:
  methods: [{method}]
  backbones: [{backbone}]
  datasets: [synthetic]
  seeds: [0]
recipe:
  epochs: 1
  image_size: {size}
method_params:
  {method}: {params}
"""


def load(project: Path, method: str, params: str = "{}", size: int = 32, backbone: str = "tiny_resnet"):
    text = SUITE.format(method=method, params=params, size=size, backbone=backbone)
    return suite_mod.load(write_suite(project, text))


@pytest.mark.parametrize(
    ("method", "params", "size", "words"),
    [
        ("manifoldmix", "{alpha: 0}", 32, ["params of manifoldmix", "alpha must be > 0"]),
        ("manifoldmix", "{layers: [0, 4]}", 32, ["params of manifoldmix", "layers must be"]),
        ("saliencymix", "{prob: 1.5}", 32, ["params of saliencymix", "prob must be in [0, 1]"]),
        ("fmix", "{alpha: -1}", 32, ["params of fmix", "alpha must be > 0"]),
        ("fmix", "{spectrum: fourier}", 32, ["params of fmix", "spectrum", "valid: released, paper"]),
        ("resizemix", "{scope: [0.5, 1.2]}", 32, ["params of resizemix", "scope must satisfy"]),
        ("gridmix", "{n_holes: [0, 4]}", 32, ["params of gridmix", "n_holes must be a range"]),
        ("gridmix", "{n_holes: [7, 9]}", 16, ["gridmix cannot run here", "n_holes", "at most 4"]),
        ("smoothmix", "{sigma: [0.5, 0.25]}", 32, ["params of smoothmix", "sigma must be a range"]),
        ("puzzlemix", "{n_labels: 5}", 32, ["params of puzzlemix", "n_labels must be 2, 3 or 4"]),
        ("puzzlemix", "{}", 24, ["puzzlemix cannot run here", "block_nums", "16 x 16"]),
        ("puzzlemix", "{block_nums: [2, 4]}", 24, ["puzzlemix cannot run here", "t_size", "6 px blocks"]),
    ],
)
def test_bad_parameters_are_rejected_naming_method_and_key(
    project: Path, method: str, params: str, size: int, words: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        load(project, method, params, size)
    message = str(info.value)
    assert message.startswith(str(project / "suites" / "suite.yaml"))
    for word in words:
        assert word in message


def test_manifoldmix_needs_a_resnet_style_backbone(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import registry

    fake = registry.Entry("vit_tiny", "bench.models.backbones:tiny_resnet", "a backbone without layer1..3")
    monkeypatch.setitem(registry.BACKBONES, "vit_tiny", fake)
    with pytest.raises(ConfigError, match=r"manifoldmix cannot run here: .*ResNet-style backbones"):
        load(project, "manifoldmix", backbone="vit_tiny")
    assert load(project, "manifoldmix", backbone="resnet18")  # the timm ResNets are fine


def test_missing_gco_stops_training_not_planning(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from bench.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "gco" else real(name, *a)
    )
    path = str(load(project, "puzzlemix").path)  # a suite with PuzzleMix validates without gco
    assert main(["plan", path]) == 0
    assert main(["run", path, "--executor", "inline"]) == 2
    message = capsys.readouterr().err
    assert "puzzlemix cannot run here" in message and "gco-wrapper" in message
    assert "pip install 'mixup-bench[puzzlemix]'" in message
    assert not (project / "results" / "runs").exists() or not any(
        (project / "results" / "runs").rglob("*.json")
    )


def test_defaults_validate_at_the_benchmark_image_sizes(project: Path) -> None:
    for method in ("manifoldmix", "saliencymix", "fmix", "puzzlemix", "resizemix", "gridmix", "smoothmix"):
        for size in (16, 32, 64):
            assert load(project, method, size=size)
