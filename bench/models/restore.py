"""Rebuild a finished run's networks from its folder: `spec.json` -> backbone + method, `last.pt`
-> their weights (loaded with weights_only=True, so a checkpoint cannot run code).

Every evaluator that works on trained networks (robustness, calibration, visualisations) goes
through `restore`, and every reason it can refuse (the run never finished, the checkpoint is
missing, foreign or does not fit the backbone) is a `RestoreError` naming the run folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from bench import records, registry
from bench.build import build
from bench.data.base import DatasetSpec
from bench.errors import BenchError
from bench.job import Job
from bench.methods.base import Method


class RestoreError(BenchError):
    """A run folder whose networks cannot be rebuilt."""


@dataclass
class Restored:
    run_dir: Path
    job: Job
    dataset: DatasetSpec
    model: nn.Module
    method: Method
    epoch: int  # epochs completed in the checkpoint

    def networks(self) -> dict[str, nn.Module]:
        """The method's reported networks, in eval mode, by name."""
        nets = self.method.eval_models(self.model)
        for net in nets.values():
            net.eval()
        return nets


def read_job(run_dir: Path) -> Job:
    try:
        return records.read_spec(run_dir)
    except records.RecordError as exc:
        raise RestoreError(str(exc)) from None


def check_finished(run_dir: Path, job: Job) -> records.Result:
    """The run's result; RestoreError if the run never finished successfully, or its records
    do not agree with each other (bench/records.py)."""
    run = records.read_run(run_dir, job)
    if run.problem is not None and run.problem.file != records.CHECKPOINT:  # `restore` says that one
        raise RestoreError(
            f"{run_dir}: its records are not trusted ({run.problem}); `bench run` on its suite resumes it"
        )
    if run.result is None:
        raise RestoreError(
            f"{run_dir}: the run never finished (no {records.RESULT}); run `bench run` on its suite first"
        )
    if not run.result.ok:
        raise RestoreError(f"{run_dir}: the run failed ({run.result.first_line}); nothing to evaluate")
    return run.result


def restore(run_dir: Path, device: torch.device | str = "cpu") -> Restored:
    """The finished run's model and method with their final weights, on `device`, in eval mode."""
    run_dir = Path(run_dir)
    job = read_job(run_dir)
    check_finished(run_dir, job)
    path = run_dir / records.CHECKPOINT
    try:
        state = records.read_checkpoint(run_dir)
    except Exception as exc:
        raise RestoreError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})") from None
    if state is None:
        raise RestoreError(f"{run_dir}: no checkpoint {records.CHECKPOINT}")
    if state.get("job_id") != job.id:
        raise RestoreError(f"{path}: checkpoint belongs to job {state.get('job_id')}, not {job.id}")
    if state.get("epoch") != job.recipe.epochs:
        raise RestoreError(
            f"{path}: checkpoint is from epoch {state.get('epoch')} of {job.recipe.epochs}; the run never finished"
        )

    dataset: DatasetSpec = registry.get("datasets", job.dataset).load()
    # No pretrained weights: the checkpoint below replaces every weight. Schedules read
    # steps_per_epoch; their state comes back with the checkpoint, so the size of the training
    # split from the dataset's facts is enough (nothing is loaded to count it).
    built = build(
        job, dataset, device=device, steps_per_epoch=_steps_per_epoch(job, dataset), with_optimizer=False
    )
    model, method = built.model, built.method
    _load(model, state.get("model", {}), f"{path} (model)", job.backbone)
    _load(method, state.get("method", {}), f"{path} (method)", job.method_name)
    model.eval()
    method.eval()
    for p in [*model.parameters(), *method.parameters()]:
        p.requires_grad_(False)  # evaluation only: attacks need input gradients, never weight gradients
    return Restored(run_dir, job, dataset, model, method, int(state["epoch"]))


def _steps_per_epoch(job: Job, dataset: DatasetSpec) -> int:
    """Training steps per epoch, from the dataset's split size and the recipe (no data is read)."""
    recipe = job.recipe
    train_images = max(1, int(dataset.split_sizes.get("train", recipe.batch_size) * recipe.train_fraction))
    return max(1, train_images // recipe.batch_size)


def _load(module: nn.Module, state: dict[str, torch.Tensor], where: str, what: str) -> None:
    """load_state_dict, but a mismatch names the keys and shapes instead of raising a RuntimeError."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state and hasattr(state[k], "shape") and state[k].shape != own[k].shape
    ]
    if missing or unexpected or shapes:
        parts = []
        for label, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("shape mismatch (checkpoint vs built)", shapes),
        ):
            if keys:
                shown = ", ".join(keys[:6]) + (f", ... ({len(keys)} in all)" if len(keys) > 6 else "")
                parts.append(f"{label}: {shown}")
        raise RestoreError(f"{where}: does not match the {what} built from spec.json; " + "; ".join(parts))
    module.load_state_dict(state)
