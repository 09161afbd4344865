"""Rebuilding a finished run's networks from spec.json and last.pt."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from bench import records, registry
from bench.data.pipeline import build_loaders
from bench.evaluate.clean import top1
from bench.models.restore import RestoreError, restore
from bench.runtime import resolve
from bench.settings import RunSettings
from bench.train import run_job
from tests.test_train import in_dir, tiny_job


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    settings = in_dir(tmp_path_factory.mktemp("runs"))
    job = tiny_job("mixup", epochs=1)
    assert run_job(job, settings).status == "ok"
    return job.run_dir(settings.runs_root), job, settings


def test_restored_networks_reproduce_the_final_test_accuracy(finished) -> None:
    run_dir, job, settings = finished
    run = restore(run_dir)
    nets = run.networks()
    assert list(nets) == list(registry.get("methods", job.method_name).load().networks)
    assert run.epoch == 1 and all(not p.requires_grad for p in run.model.parameters())
    rt = resolve(RunSettings(device="cpu"))
    _, test, _ = build_loaders(run.dataset, job.recipe, settings, rt, torch.Generator())
    final = records.read_metrics(run_dir)[0][-1].test_top1
    assert {name: top1(net, test, rt) for name, net in nets.items()} == final


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / run_dir.name
    shutil.copytree(run_dir, target)
    return target


def test_a_checkpoint_that_does_not_fit_the_backbone_names_the_keys(finished, tmp_path: Path) -> None:
    run_dir = _copy(finished[0], tmp_path)
    state = torch.load(run_dir / records.CHECKPOINT, weights_only=True)
    state["model"].pop("fc.bias")
    state["model"]["layer1.0.conv1.weight"] = torch.zeros(3, 3, 3, 3)
    state["model"]["head.extra"] = torch.zeros(1)
    torch.save(state, run_dir / records.CHECKPOINT)
    with pytest.raises(RestoreError) as info:
        restore(run_dir)
    message = str(info.value)
    assert "missing: fc.bias" in message and "unexpected: head.extra" in message
    assert "layer1.0.conv1.weight (3, 3, 3, 3) vs (" in message and str(run_dir) in message


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda d: (d / records.RESULT).unlink(), "never finished"),
        (lambda d: (d / records.CHECKPOINT).unlink(), "no checkpoint"),
        (lambda d: (d / records.CHECKPOINT).write_bytes(b"not a checkpoint"), "unreadable checkpoint"),
        (lambda d: (d / records.SPEC).unlink(), "is this a run folder"),
    ],
)
def test_unusable_runs_are_refused_with_their_reason(finished, tmp_path: Path, damage, expected: str) -> None:
    run_dir = _copy(finished[0], tmp_path)
    damage(run_dir)
    with pytest.raises(RestoreError, match=expected):
        restore(run_dir)


def test_a_failed_run_is_refused(finished, tmp_path: Path) -> None:
    run_dir = _copy(finished[0], tmp_path)
    record = records.read_result(run_dir)
    records.write_result(run_dir, dataclasses.replace(record, status="error", error="loss became nan"))
    with pytest.raises(RestoreError, match="failed \\(loss became nan\\)"):
        restore(run_dir)


def test_restore_builds_the_method_as_training_did(finished) -> None:
    """The restored method's generator starts where the training run's did (seed + offset), with the
    dataset's normalisation: one builder for both."""
    from bench import build

    run_dir, job, _ = finished
    run = restore(run_dir)
    expected = build.method_generator(job.seed)
    assert torch.equal(run.method.ctx.generator.get_state(), expected.get_state())
    assert run.method.ctx.mean == run.dataset.mean and run.method.ctx.std == run.dataset.std
