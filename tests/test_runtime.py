"""`compile = true`: torch.compile in place, and eager training with a warning when it fails."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch
from torch import nn

from bench import records, runtime
from bench.settings import RunSettings, Settings
from bench.train import run_job
from tests.test_train import tiny_job


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)
    )


def failing_backend(gm, example_inputs):
    raise RuntimeError("no compiler here")


@pytest.fixture
def warnings() -> list[str]:
    return []


def test_compiled_in_place_gives_the_eager_outputs(monkeypatch, warnings: list[str]) -> None:
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="eager"))
    net, eager = small_net(), small_net()
    keys = list(net.state_dict())
    assert runtime.compile_model(net, warnings.append)
    x = torch.randn(5, 3, 8, 8)
    assert torch.equal(net(x), eager(x))
    assert net._compiled_call_impl is not None and list(net.state_dict()) == keys  # same names as eager
    assert warnings == []


def test_compile_unavailable_warns_and_runs_eagerly(monkeypatch, warnings: list[str]) -> None:
    def unavailable(*args, **kwargs):
        raise RuntimeError("torch.compile is not supported on this platform")

    monkeypatch.setattr(torch, "compile", unavailable)
    net, eager = small_net(), small_net()
    assert not runtime.compile_model(net, warnings.append)
    assert len(warnings) == 1 and "not supported on this platform" in warnings[0] and "eagerly" in warnings[0]
    x = torch.randn(5, 3, 8, 8)
    assert torch.equal(net(x), eager(x))


def test_a_failing_compilation_falls_back_to_eager_once(monkeypatch, warnings: list[str]) -> None:
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend=failing_backend))
    net, eager = small_net(), small_net()
    assert runtime.compile_model(net, warnings.append)  # torch compiles at the first call
    x = torch.randn(5, 3, 8, 8)
    out = net(x)  # compilation fails: this call runs eagerly
    out.sum().backward()
    assert torch.equal(out, eager(x))
    assert len(warnings) == 1 and "BackendCompilerFailed" in warnings[0] and "no compiler here" in warnings[0]
    assert net._compiled_call_impl is None  # eager from now on: no second attempt, no second warning
    net(x)
    assert len(warnings) == 1


def test_errors_of_the_model_itself_still_raise(monkeypatch, warnings: list[str]) -> None:
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="eager"))
    net = small_net()
    runtime.compile_model(net, warnings.append)
    with pytest.raises(RuntimeError, match="channels"):
        net(torch.randn(5, 4, 8, 8))  # wrong channel count: the eager re-run raises it


def test_a_job_asking_for_compile_trains_eagerly_when_it_fails(monkeypatch, tmp_path: Path) -> None:
    def unavailable(*args, **kwargs):
        raise RuntimeError("Dynamo is not supported here")

    monkeypatch.setattr(torch, "compile", unavailable)
    job = tiny_job("vanilla", epochs=1)
    settings = Settings(base_dir=str(tmp_path), run=RunSettings(compile=True))
    assert run_job(job, settings).status == "ok"
    log = (job.run_dir(settings.runs_root) / records.LOG).read_text()
    assert "torch.compile is unavailable (RuntimeError: Dynamo is not supported here); running eagerly" in log
    assert len(records.read_metrics(job.run_dir(settings.runs_root))[0]) == 1


def test_compile_is_a_run_setting_and_a_flag(project: Path) -> None:
    from bench.commands.common import load_settings
    from bench.settings import load

    (project / "bench.toml").write_text((project / "bench.toml").read_text() + "compile = true\n")
    assert load(project / "bench.toml").run.compile is True
    assert runtime.resolve(RunSettings(compile=True)).compile is True
    from bench.cli import parser

    args = parser().parse_args(["run", "suites/tiny.yaml", "--compile"])
    assert args.compile is True and load_settings(args).run.compile is True
    args = parser().parse_args(["run", "suites/tiny.yaml"])
    assert args.compile is None
