"""What one training step of each method costs: its median time, its ratio to vanilla's, its memory.

Each method gets its own copy of the network (the same initial weights for all), its own optimizer
and its own `Trainer`, exactly as a job builds them, and every timed call is `Trainer.step` on the
same augmented batch: the method's loss, backward, optimizer step and `after_step`, without the
data path (timed on its own) or logging. The steps of all methods are timed in interleaved rounds
(`timing.rounds`), so vanilla's step and every method's share the machine's conditions.

A method that names the passes its step cannot avoid (`Method.unavoidable_passes`: AutoMix and
AdAutoMix, whose teacher and classifier passes are listed in `LearnedMix.unavoidable_passes`) also
gets each of them timed on its own. Everything else in its step (Mix Block, mixing, EMA, optimizer)
is overhead, so `step / sum of passes` says how close the step is to its floor. Each method's
target (`cost_target`, a ratio to vanilla's step or to its passes) is a fact of its class.

A method that cannot run with the backbone or image size (`check_compatible`) is a row with the
reason; one that fails while it runs is a row with its error; neither stops the others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from bench import build, distributed, registry
from bench.data.base import DatasetSpec
from bench.errors import BenchError
from bench.job import Job
from bench.methods.base import Method
from bench.perf import timing
from bench.recipe import Recipe
from bench.runtime import Runtime, compile_model
from bench.train import Trainer

STEP = "step"


@dataclass
class MethodRow:
    """One method's figures; `status` is "ok", "incompatible" (with the reason) or "error"."""

    method: str
    status: str = "ok"
    reason: str = ""
    step: timing.Summary | None = None  # seconds per training step
    vs_vanilla: float | None = None
    target: float | None = None  # the method's cost_target: the ratio it should stay under
    target_over: str = "vanilla"  # what the target is a ratio to: "vanilla" or "passes"
    passes: dict[str, timing.Summary] = field(default_factory=dict)  # learned mixers: seconds per pass
    vs_passes: float | None = None  # learned mixers: step / sum of the passes' medians
    state_bytes: int | None = None  # parameters, gradients, buffers and optimizer state
    step_peak_bytes: int | None = None  # the most a step allocates beyond that

    @property
    def passes_seconds(self) -> float | None:
        return sum(s.median for s in self.passes.values()) if self.passes else None

    @property
    def within_target(self) -> bool | None:
        ratio = self.vs_passes if self.target_over == "passes" else self.vs_vanilla
        if self.target is None or ratio is None:
            return None
        return ratio <= self.target

    @property
    def peak_bytes(self) -> int | None:
        if self.state_bytes is None or self.step_peak_bytes is None:
            return None
        return self.state_bytes + self.step_peak_bytes


@dataclass
class Setup:
    """What every method is measured on: one batch, the network, the recipe and the runtime."""

    backbone: str
    dataset: DatasetSpec
    images: torch.Tensor
    labels: torch.Tensor
    recipe: Recipe
    rt: Runtime
    steps_per_epoch: int
    seed: int = 0
    warn: Callable[[str], None] = print  # where torch.compile's fallback warnings go
    clock: timing.Clock = "wall"

    def job(self, method: str) -> Job:
        """`method` with its default parameters on this setup, as a job (what the builder takes)."""
        return build.job_for(
            method,
            backbone=self.backbone,
            dataset=self.dataset.name,
            recipe=dataclasses.replace(self.recipe, image_size=self.images.shape[-1]),
            seed=self.seed,
        )


@dataclass
class Runner:
    """A method ready to step: its network, the method, its trainer."""

    model: nn.Module
    method: Method
    trainer: Trainer

    def step(self, setup: Setup) -> None:
        self.trainer.step(setup.images, setup.labels, 0)


def build_runner(name: str, setup: Setup) -> Runner:
    """`name` with its default parameters, built as `bench.train` builds a job (same seed, so every
    method starts from the same weights)."""
    built = build.build(
        setup.job(name),
        setup.dataset,
        device=setup.rt.device,
        steps_per_epoch=setup.steps_per_epoch,
        memory_format=setup.rt.memory_format,
    )
    model, method = built.model, built.method
    if setup.rt.compile:
        compile_model(model, warn=lambda message: setup.warn(f"{name}: {message}"))
    train_step = distributed.wrap(model, method, distributed.SINGLE, setup.rt)
    trainer = Trainer(
        model, method, built.optimizer, train_step, setup.recipe, setup.rt, setup.steps_per_epoch
    )
    return Runner(model, method, trainer)


def incompatibility(name: str, setup: Setup) -> str | None:
    """Why `name` cannot run in this setup, or None."""
    cls = registry.get("methods", name).load()
    try:
        cls.check_compatible(
            backbone=setup.backbone,
            dataset=setup.dataset.name,
            image_size=setup.images.shape[-1],
            params=cls.Params(),
        )
    except ValueError as exc:
        return str(exc)
    return None


def measure(names: list[str], setup: Setup, warmup: int, steps: int, memory: bool = True) -> list[MethodRow]:
    """Rows for vanilla (always measured: the reference) and every method in `names`, in that order."""
    names = ["vanilla", *(n for n in dict.fromkeys(names) if n != "vanilla")]
    rows = {}
    for name in names:
        cls: type[Method] = registry.get("methods", name).load()
        rows[name] = MethodRow(name, target=cls.cost_target, target_over=cls.cost_basis())
    runners: dict[str, Runner] = {}
    items: dict[tuple[str, str], Callable[[], Any]] = {}
    for name in names:
        reason = incompatibility(name, setup)
        if reason:
            rows[name].status, rows[name].reason = "incompatible", reason
            continue
        try:
            runner = build_runner(name, setup)
            items[name, STEP] = lambda r=runner: r.step(setup)
            passes = runner.method.unavoidable_passes(
                runner.model, setup.images, setup.labels, setup.rt.autocast
            )
            for label, fn in passes.items():
                items[name, label] = fn
        except Exception as exc:
            _failed(rows[name], exc)
            continue
        runners[name] = runner

    times, errors = timing.rounds(items, setup.rt.device, warmup, steps, setup.clock)
    for (name, _), exc in errors.items():
        if rows[name].status == "ok":
            _failed(rows[name], exc)
            runners.pop(name, None)
    for (name, label), values in times.items():
        if rows[name].status != "ok":
            continue
        if label == STEP:
            rows[name].step = timing.Summary.of(values)
        else:
            rows[name].passes[label] = timing.Summary.of(values)

    vanilla = rows["vanilla"].step
    for name, row in rows.items():
        if row.status != "ok" or row.step is None:
            continue
        if vanilla is not None:
            row.vs_vanilla = row.step.median / vanilla.median
        if row.passes:
            row.vs_passes = row.step.median / row.passes_seconds
        if memory:  # an untimed step; its gradients are allocated inside it, as on any step
            runner = runners[name]
            runner.trainer.optimizer.zero_grad(set_to_none=True)
            row.state_bytes = timing.tensor_bytes(runner.model, runner.method, runner.trainer.optimizer)
            row.step_peak_bytes = timing.peak_memory(lambda r=runner: r.step(setup), setup.rt.device)
    return list(rows.values())


def _failed(row: MethodRow, exc: BaseException) -> None:
    row.status = "error"
    row.reason = str(exc) if isinstance(exc, BenchError) else f"{type(exc).__name__}: {exc}"
