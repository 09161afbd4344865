"""The training loop: determinism, resume after an interruption, corrupt checkpoints, NaN losses."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import pytest
import torch

from bench import records
from bench.job import Job
from bench.recipe import Optimizer, Recipe
from bench.settings import Settings
from bench.train import run_job


def tiny_job(
    method: str = "mixup",
    epochs: int = 3,
    lr: float = 0.1,
    seed: int = 0,
    params: dict | None = None,
    train_fraction: float = 0.125,
    test_fraction: float = 0.25,
) -> Job:
    """A job of `method` on the tiny ResNet and a slice of the synthetic data (MixUp-style alpha 1
    unless `params` are given)."""
    recipe = Recipe(
        epochs=epochs,
        batch_size=32,
        image_size=16,
        augmentation="crop_flip",
        train_fraction=train_fraction,
        test_fraction=test_fraction,
        optimizer=Optimizer(lr=lr),
    )
    return Job(
        suite="t",
        method=method,
        method_name=method,
        method_version=1,
        params=params if params is not None else {} if method == "vanilla" else {"alpha": 1.0},
        backbone="tiny_resnet",
        dataset="synthetic",
        seed=seed,
        recipe=recipe,
    )


def in_dir(root: Path) -> Settings:
    return Settings(base_dir=str(root))


def metrics(job: Job, settings: Settings) -> list[dict]:
    rows = records.read_metrics(job.run_dir(settings.runs_root))[0]
    return [{k: v for k, v in r.to_dict().items() if "seconds" not in k} for r in rows]


def test_same_spec_and_seed_gives_identical_metrics(tmp_path: Path) -> None:
    a, b = in_dir(tmp_path / "a"), in_dir(tmp_path / "b")
    job = tiny_job()
    assert run_job(job, a).status == "ok" and run_job(job, b).status == "ok"
    assert metrics(job, a) == metrics(job, b)
    assert len(metrics(job, a)) == 3
    other = tiny_job(seed=1)
    run_job(other, a)
    assert metrics(other, a) != metrics(job, a)


def test_interrupted_job_resumes_and_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    job = tiny_job(epochs=4)
    reference = in_dir(tmp_path / "ref")
    run_job(job, reference)

    settings = in_dir(tmp_path / "resumed")

    def interrupt_after_two(j: Job, row: dict) -> None:
        if row.epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_job(job, settings, on_epoch=interrupt_after_two)
    run_dir = job.run_dir(settings.runs_root)
    assert (run_dir / records.CHECKPOINT).exists() and not (run_dir / records.RESULT).exists()
    assert len(metrics(job, settings)) == 2

    record = run_job(job, settings)
    assert record.status == "ok" and record.epochs_completed == 4
    assert "resuming after epoch 2" in (run_dir / records.LOG).read_text()
    assert metrics(job, settings) == metrics(job, reference)


def test_truncated_checkpoint_restarts_the_job_cleanly(tmp_path: Path) -> None:
    settings = in_dir(tmp_path)
    job = tiny_job(epochs=2)
    run_job(job, settings)
    first = metrics(job, settings)
    run_dir = job.run_dir(settings.runs_root)
    checkpoint = run_dir / records.CHECKPOINT
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    (run_dir / records.RESULT).unlink()
    record = run_job(job, settings)
    assert record.status == "ok"
    assert "is unusable" in (run_dir / records.LOG).read_text()
    assert metrics(job, settings) == first


def test_non_finite_loss_stops_the_job_with_a_clear_error(tmp_path: Path) -> None:
    settings = in_dir(tmp_path)
    job = tiny_job(method="vanilla", lr=1e12)
    record = run_job(job, settings)
    assert record.status == "error"
    assert "loss became" in record.error and "epoch 1" in record.error
    assert records.read_result(job.run_dir(settings.runs_root)).status == "error"


def test_result_record_has_reducers_versions_and_wall_time(tmp_path: Path) -> None:
    settings = in_dir(tmp_path)
    record = run_job(tiny_job(epochs=2), settings)
    assert set(record.metrics["online"]) == {"final", "best", "median_last10"}
    assert {"git_commit", "torch", "device"} <= set(record.versions)
    assert record.wall_seconds > 0 and record.primary_network == "online"
    assert record.machine is not None and record.machine.torch == torch.__version__
    assert record.machine.cpu and record.machine.gpu is None and record.machine.gpus == 0  # a CPU run
    on_disk = json.loads((tiny_job(epochs=2).run_dir(settings.runs_root) / records.RESULT).read_text())
    assert set(on_disk["machine"]) == {"cpu", "gpu", "gpus", "torch", "cuda"}
    spec = json.loads((tiny_job(epochs=2).run_dir(settings.runs_root) / records.SPEC).read_text())
    assert spec["id"] == tiny_job(epochs=2).id and spec["recipe"]["epochs"] == 2


def test_missing_dataset_is_an_error_record_not_a_crash(tmp_path: Path) -> None:
    settings = in_dir(tmp_path)
    job = dataclasses.replace(tiny_job(), dataset="cifar10")
    record = run_job(job, settings)
    assert record.status == "error" and "cifar-10-batches-py" in record.error


# Tensor methods that make the host wait for the device on a GPU (a value read back).
HOST_READS = ("item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__")


def _trainer(method_name: str, rt) -> tuple:
    """A job's Trainer for `method_name` (default parameters) on the tiny job's data, and its batches."""
    from bench import distributed, registry
    from bench.data.pipeline import build_loaders
    from bench.methods.base import MethodContext
    from bench.models.backbones import build_backbone
    from bench.optim import build_optimizer
    from bench.train import Trainer

    job = tiny_job(method_name)
    dataset = registry.get("datasets", job.dataset).load()
    train, _, _ = build_loaders(dataset, job.recipe, Settings(), rt, torch.Generator().manual_seed(0))
    model = build_backbone(job.backbone, num_classes=dataset.num_classes, image_size=job.recipe.image_size)
    model = model.to(rt.device)
    method_cls = registry.get("methods", method_name).load()
    ctx = MethodContext(
        dataset.num_classes, 16, 0.0, torch.Generator(), rt.device, len(train), len(train), job.backbone
    )
    method = method_cls(method_cls.Params(), ctx).to(rt.device)
    method.setup(model)
    optimizer = build_optimizer(model, job.recipe, method.param_groups())
    step = distributed.wrap(model, method, distributed.SINGLE, rt)
    return Trainer(model, method, optimizer, step, job.recipe, rt, len(train)), train


def test_a_vanilla_step_reads_nothing_back_between_sync_points(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a GPU the host must queue steps ahead of the device: inside the loop, only the finite-
    loss check every `sync_every` steps may read a value back (counted here on the CPU)."""
    from bench.runtime import Runtime

    rt = Runtime(device=torch.device("cpu"), bf16=False, channels_last=False, sync_every=4)
    trainer, train = _trainer("vanilla", rt)
    assert len(train) == 8

    reads: list[str] = []
    for name in HOST_READS:
        original = getattr(torch.Tensor, name)

        def counting(self, *args, _original=original, _name=name, **kwargs):
            reads.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counting)
    loss_sum, _ = trainer.epoch(itertools.islice(train, 8), epoch=0)
    monkeypatch.undo()
    assert reads == ["__bool__", "__bool__"]  # the finite-loss checks after steps 4 and 8, nothing else
    assert loss_sum.item() > 0


# Their sampling is drawn on the host and sent without waiting; SaliencyMix and PuzzleMix compute
# on the host by design (OpenCV's saliency, the graph cut), the learned mixers and AOM have not
# been checked on a GPU yet.
SYNC_FREE = ["vanilla", "mixup", "cutmix", "manifoldmix", "fmix", "resizemix", "gridmix", "smoothmix"]


@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device: a CPU has nothing to wait for"
)
@pytest.mark.parametrize("method", SYNC_FREE)
def test_no_step_makes_the_host_wait_for_the_gpu(method: str) -> None:
    from bench.runtime import Runtime

    rt = Runtime(device=torch.device("cuda"), bf16=True, channels_last=True, sync_every=100)
    trainer, train = _trainer(method, rt)
    torch.cuda.set_sync_debug_mode("error")  # any implicit synchronisation raises
    try:
        trainer.epoch(itertools.islice(train, 4), epoch=0)
    finally:
        torch.cuda.set_sync_debug_mode("default")
