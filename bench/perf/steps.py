"""What one training step of each method costs: its median time, its ratio to vanilla's, its memory.

Each method gets its own copy of the network (the same initial weights for all), its own optimizer
and its own `Trainer`, exactly as a job builds them, and every timed call is `Trainer.step` on the
same augmented batch: the method's loss, backward, optimizer step and `after_step`, without the
data path (timed on its own) or logging. The steps of all methods are timed in interleaved rounds
(`timing.Rounds`), so vanilla's step and every method's share the machine's conditions. A
method's ratio is the median of its per-round ratios with a 95% interval; whether it is within its
target is decided only when that interval lies on one side of the target, after further rounds of
the undecided methods and vanilla if it takes them (up to `max_steps`), else "unresolved".

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
    target: float | None = None  # the method's cost_target: the ratio it should stay under
    target_over: str = "vanilla"  # what the target is a ratio to: "vanilla" or "passes"
    passes: dict[str, timing.Summary] = field(default_factory=dict)  # learned mixers: seconds per pass
    over_vanilla: timing.RatioEstimate | None = None  # per-round step / vanilla's step
    over_passes: timing.RatioEstimate | None = None  # per-round step / sum of the passes
    state_bytes: int | None = None  # parameters, gradients, buffers and optimizer state
    step_peak_bytes: int | None = None  # the most a step allocates beyond that

    @property
    def vs_vanilla(self) -> float | None:
        return self.over_vanilla.ratio if self.over_vanilla else None

    @property
    def vs_passes(self) -> float | None:
        return self.over_passes.ratio if self.over_passes else None

    @property
    def passes_seconds(self) -> float | None:
        return sum(s.median for s in self.passes.values()) if self.passes else None

    @property
    def estimate(self) -> timing.RatioEstimate | None:
        """The ratio the target is about (over vanilla's step, or over the passes)."""
        return self.over_passes if self.target_over == "passes" else self.over_vanilla

    @property
    def within(self) -> timing.Verdict | None:
        """'yes' / 'no' when the ratio's interval lies under / above the target, else 'unresolved';
        None without a target."""
        if self.target is None or self.estimate is None:
            return None
        return self.estimate.verdict(self.target)

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
    if cls.missing_dependency():
        return cls.missing_dependency()
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


def measure(
    names: list[str], setup: Setup, warmup: int, steps: int, memory: bool = True, max_steps: int | None = None
) -> list[MethodRow]:
    """Rows for vanilla (always measured: the reference) and every method in `names`, in that order.

    `steps` timed rounds of every item, then more rounds of vanilla and of each method whose
    "within" is still unresolved, until each is decided or `max_steps` rounds (default `steps`)
    have been timed.
    """
    max_steps = max(steps, max_steps or steps)
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

    rounds = timing.Rounds(items, setup.rt.device, setup.clock)
    rounds.run(warmup, timed=False)
    rounds.run(steps)
    _estimate(rows, rounds)
    while (undecided := _undecided(rows)) and _count(rounds) < max_steps:
        keys = [k for k in items if k == ("vanilla", STEP) or k[0] in undecided]
        rounds.run(min(max(steps, 3), max_steps - _count(rounds)), keys)  # interleaved among themselves
        _estimate(rows, rounds)
    for name, row in rows.items():
        if row.status == "ok" and memory:  # an untimed step; its gradients are allocated inside it
            runner = runners[name]
            runner.trainer.optimizer.zero_grad(set_to_none=True)
            row.state_bytes = timing.tensor_bytes(runner.model, runner.method, runner.trainer.optimizer)
            row.step_peak_bytes = timing.peak_memory(lambda r=runner: r.step(setup), setup.rt.device)
    return list(rows.values())


def _undecided(rows: dict[str, MethodRow]) -> list[str]:
    return [name for name, row in rows.items() if row.status == "ok" and row.within == "unresolved"]


def _count(rounds: timing.Rounds) -> int:
    """Timed rounds of vanilla's step so far (the most any item has)."""
    return max((len(v) for v in rounds.times.values()), default=0)


def _estimate(rows: dict[str, MethodRow], rounds: timing.Rounds) -> None:
    """Each row's step summary, its passes and its per-round ratios, from the rounds so far."""
    times, errors = rounds.result()
    for (name, _), exc in errors.items():
        if rows[name].status == "ok":
            _failed(rows[name], exc)
    vanilla = times.get(("vanilla", STEP)) if rows["vanilla"].status == "ok" else None
    for name, row in rows.items():
        mine = times.get((name, STEP))
        if row.status != "ok" or not mine:
            continue
        row.step = timing.Summary.of(mine)
        passes = {label: t for (n, label), t in times.items() if n == name and label != STEP}
        row.passes = {label: timing.Summary.of(t) for label, t in passes.items()}
        if vanilla:
            row.over_vanilla = timing.ratio_estimate(mine, [vanilla])
        if passes:
            row.over_passes = timing.ratio_estimate(mine, list(passes.values()))


def _failed(row: MethodRow, exc: BaseException) -> None:
    row.status = "error"
    row.reason = str(exc) if isinstance(exc, BenchError) else f"{type(exc).__name__}: {exc}"
