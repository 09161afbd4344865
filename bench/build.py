"""One builder: a job's model, its method (context and seeded generator) and its optimizer.

Training, `restore` (evaluation of finished runs), `bench perf` and `bench visualize` all build
through these functions, so they see the same network initialisation, the same method settings and
the same random draws for a given job and seed. Whatever only one caller needs (data loaders, the
distributed wrapper, compilation, the checkpoint) stays with that caller.

Seeds: the global torch RNG is seeded with the job's seed right before the backbone is created
(its initial weights and any global-RNG layer such as drop-path), and the method draws from its own
CPU generator seeded with `seed + METHOD_SEED_OFFSET`, so that it never replays the draws of the
data generator (seeded with `seed`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench import registry, schema
from bench.data.base import DatasetSpec
from bench.job import Job
from bench.methods.base import Method, MethodContext
from bench.optim import build_optimizer
from bench.recipe import Recipe

METHOD_SEED_OFFSET = 1_000_003  # the method's generator must not replay the data generator's draws


@dataclass
class Built:
    """What trains a job: the classifier, the method (set up on it) and the optimizer over both."""

    model: nn.Module
    method: Method
    optimizer: torch.optim.Optimizer | None
    generator: torch.Generator  # the method's; its state is part of a training checkpoint


def method_generator(seed: int) -> torch.Generator:
    """The CPU generator behind every random draw a method makes for a job with this seed."""
    return torch.Generator().manual_seed(seed + METHOD_SEED_OFFSET)


def job_for(
    method: str,
    *,
    backbone: str,
    dataset: str,
    recipe: Recipe,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    suite: str = "adhoc",
) -> Job:
    """A job outside any suite (`bench perf`, `bench visualize`): `method` with `params` (its
    defaults if None). `recipe.image_size` must be set."""
    cls = registry.get("methods", method).load()
    return Job(
        suite=suite,
        method=method,
        method_name=method,
        method_version=cls.version,
        params=dict(params or {}),
        backbone=backbone,
        dataset=dataset,
        seed=seed,
        recipe=recipe,
    )


def model(
    job: Job,
    dataset: DatasetSpec,
    *,
    device: torch.device | str = "cpu",
    memory_format: torch.memory_format = torch.preserve_format,
    weights: Path | None = None,
) -> nn.Module:
    """The job's backbone, initialised from the job's seed (all but its classifier loaded from
    `weights` when given), on `device`."""
    from bench.models.backbones import build_backbone  # timm: only when something is built

    recipe = job.recipe
    torch.manual_seed(job.seed)
    net = build_backbone(
        job.backbone,
        num_classes=dataset.num_classes,
        image_size=recipe.image_size,
        stem=recipe.stem,
        pretrained=weights,
        drop_path=recipe.drop_path,
    )
    return net.to(device, memory_format=memory_format)


def method_context(
    job: Job,
    dataset: DatasetSpec,
    *,
    device: torch.device | str,
    steps_per_epoch: int,
    generator: torch.Generator,
) -> MethodContext:
    """What the method may know about the job it runs in."""
    recipe = job.recipe
    return MethodContext(
        num_classes=dataset.num_classes,
        image_size=recipe.image_size,
        label_smoothing=recipe.label_smoothing,
        generator=generator,
        device=torch.device(device),
        steps_per_epoch=steps_per_epoch,
        total_steps=steps_per_epoch * recipe.epochs,
        backbone=job.backbone,
        mean=dataset.mean,
        std=dataset.std,
    )


def method(
    job: Job,
    dataset: DatasetSpec,
    net: nn.Module,
    *,
    device: torch.device | str = "cpu",
    steps_per_epoch: int,
) -> Method:
    """The job's method with its parameters, on `device`, set up on `net` (an EMA teacher copies it)."""
    cls: type[Method] = registry.get("methods", job.method_name).load()
    ctx = method_context(
        job, dataset, device=device, steps_per_epoch=steps_per_epoch, generator=method_generator(job.seed)
    )
    built = cls(schema.build(cls.Params, job.params), ctx).to(device)
    built.setup(net)
    return built


def build(
    job: Job,
    dataset: DatasetSpec,
    *,
    device: torch.device | str = "cpu",
    steps_per_epoch: int,
    memory_format: torch.memory_format = torch.preserve_format,
    weights: Path | None = None,
    with_optimizer: bool = True,
    net: nn.Module | None = None,
) -> Built:
    """The job's model, method and (unless `with_optimizer` is False) optimizer, ready to train.

    `net`: an existing classifier to set the method up on instead of a new one (`bench visualize`
    shows every method on one briefly trained network)."""
    if net is None:
        net = model(job, dataset, device=device, memory_format=memory_format, weights=weights)
    built = method(job, dataset, net, device=device, steps_per_epoch=steps_per_epoch)
    optimizer = build_optimizer(net, job.recipe, built.param_groups()) if with_optimizer else None
    return Built(net, built, optimizer, built.ctx.generator)
