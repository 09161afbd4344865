"""What one training step of each method costs: its median time, its ratio to vanilla's, its memory.

Each method gets its own copy of the network (the same initial weights for all), its own optimizer
and its own `Trainer`, exactly as a job builds them, and every timed call is `Trainer.step` on the
same augmented batch: the method's loss, backward, optimizer step and `after_step`, without the
data path (timed on its own) or logging. The steps of all methods are timed in interleaved rounds
(`timing.rounds`), so vanilla's step and every method's share the machine's conditions.

AutoMix and AdAutoMix also time each pass their step cannot avoid, on its own (the teacher's
forward for the stage-3 map; the classifier's forward + backward on the clean batch, on the plain
mixup (AdAutoMix) and on the generated mix; the teacher's forward + backward to the generator's
mix, input gradient only). Everything else in their step (Mix Block, mixing, EMA, optimizer) is
overhead, so `step / sum of passes` says how close the step is to its floor.

A method that cannot run with the backbone or image size (`check_compatible`) is a row with the
reason; one that fails while it runs is a row with its error; neither stops the others.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from bench import distributed, registry
from bench.data.base import DatasetSpec
from bench.errors import BenchError
from bench.methods.base import Method, MethodContext
from bench.models import features
from bench.optim import build_optimizer
from bench.perf import timing
from bench.recipe import Recipe
from bench.runtime import Runtime, compile_model
from bench.schema import build
from bench.train import METHOD_SEED_OFFSET, Trainer

# The per-step cost each method should stay under, as a ratio to vanilla (the methods issues).
TARGETS = {
    "mixup": 1.03,
    "cutmix": 1.03,
    "resizemix": 1.03,
    "fmix": 1.03,
    "gridmix": 1.03,
    "smoothmix": 1.03,
    "manifoldmix": 1.05,
    "saliencymix": 1.10,
    "puzzlemix": 2.3,
    "aom": 4.1,  # 3 PGD steps (its default)
}
PASSES_TARGET = 1.10  # AutoMix and AdAutoMix: full step / sum of their unavoidable passes
LEARNED = ("automix", "adautomix")
STEP = "step"


@dataclass
class MethodRow:
    """One method's figures; `status` is "ok", "incompatible" (with the reason) or "error"."""

    method: str
    status: str = "ok"
    reason: str = ""
    step: timing.Summary | None = None  # seconds per training step
    vs_vanilla: float | None = None
    target: float | None = None  # the ratio to vanilla it should stay under
    passes: dict[str, timing.Summary] = field(default_factory=dict)  # learned mixers: seconds per pass
    vs_passes: float | None = None  # learned mixers: step / sum of the passes' medians
    state_bytes: int | None = None  # parameters, gradients, buffers and optimizer state
    step_peak_bytes: int | None = None  # the most a step allocates beyond that

    @property
    def passes_seconds(self) -> float | None:
        return sum(s.median for s in self.passes.values()) if self.passes else None

    @property
    def within_target(self) -> bool | None:
        if self.method in LEARNED:
            return None if self.vs_passes is None else self.vs_passes <= PASSES_TARGET
        if self.target is None or self.vs_vanilla is None:
            return None
        return self.vs_vanilla <= self.target

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


@dataclass
class Runner:
    """A method ready to step: its network, the method, its trainer."""

    model: nn.Module
    method: Method
    trainer: Trainer

    def step(self, setup: Setup) -> None:
        self.trainer.step(setup.images, setup.labels, 0)


def build_runner(name: str, setup: Setup, model: nn.Module) -> Runner:
    """`name` on a copy of `model`, as `bench.train` builds a job (its default parameters)."""
    cls: type[Method] = registry.get("methods", name).load()
    model = copy.deepcopy(model)
    ctx = MethodContext(
        num_classes=setup.dataset.num_classes,
        image_size=setup.images.shape[-1],
        label_smoothing=setup.recipe.label_smoothing,
        generator=torch.Generator().manual_seed(setup.seed + METHOD_SEED_OFFSET),
        device=setup.rt.device,
        steps_per_epoch=setup.steps_per_epoch,
        total_steps=setup.steps_per_epoch * setup.recipe.epochs,
        backbone=setup.backbone,
        mean=setup.dataset.mean,
        std=setup.dataset.std,
    )
    method = cls(build(cls.Params, {}), ctx).to(setup.rt.device)
    method.setup(model)
    if setup.rt.compile:
        compile_model(model, warn=lambda message: setup.warn(f"{name}: {message}"))
    optimizer = build_optimizer(model, setup.recipe, method.param_groups(), method)
    train_step = distributed.wrap(model, method, distributed.SINGLE, setup.rt)
    trainer = Trainer(model, method, optimizer, train_step, setup.recipe, setup.rt, setup.steps_per_epoch)
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


def unavoidable_passes(runner: Runner, setup: Setup) -> dict[str, Callable[[], Any]]:
    """The passes an AutoMix / AdAutoMix step cannot avoid, each a callable on realistic inputs."""
    model, method, rt = runner.model, runner.method, setup.rt
    images, labels = setup.images, setup.labels
    targets = method.targets(labels)
    mixed = method.preview(model, images, labels).images.detach()  # a real generated mix, no side effects
    from bench.methods.targets import soft_cross_entropy

    def classifier(x: torch.Tensor, head: nn.Module) -> Callable[[], None]:
        def run() -> None:
            model.zero_grad(set_to_none=True)
            with rt.autocast():
                loss = soft_cross_entropy(head(features.pooled(model, x)), targets)
            loss.backward()

        return run

    def teacher_clean() -> None:
        with rt.autocast():
            method.teacher_clean(images)

    def teacher_to_generator() -> None:
        x = mixed.clone().requires_grad_(True)
        with rt.autocast():
            loss = soft_cross_entropy(method.teacher_mix_logits(x), targets)
        loss.backward()

    passes = {"teacher forward (stage-3 map)": teacher_clean}
    passes["classifier fwd+bwd, clean"] = classifier(images, features.classifier(model))
    if method.name == "adautomix":
        passes["classifier fwd+bwd, linear mix"] = classifier(mixed, method.head_mix)
    passes["classifier fwd+bwd, generated mix"] = classifier(mixed, method.head_mix)
    passes["teacher fwd+bwd to the generator"] = teacher_to_generator
    return passes


def measure(names: list[str], setup: Setup, warmup: int, steps: int, memory: bool = True) -> list[MethodRow]:
    """Rows for vanilla (always measured: the reference) and every method in `names`, in that order."""
    from bench.models.backbones import build_backbone

    names = ["vanilla", *(n for n in dict.fromkeys(names) if n != "vanilla")]
    rows = {name: MethodRow(name, target=TARGETS.get(name)) for name in names}
    torch.manual_seed(setup.seed)  # every method starts from the same weights
    model = build_backbone(
        setup.backbone, num_classes=setup.dataset.num_classes, image_size=setup.images.shape[-1]
    )
    model = model.to(setup.rt.device, memory_format=setup.rt.memory_format)

    runners: dict[str, Runner] = {}
    items: dict[tuple[str, str], Callable[[], Any]] = {}
    for name in names:
        reason = incompatibility(name, setup)
        if reason:
            rows[name].status, rows[name].reason = "incompatible", reason
            continue
        try:
            runner = build_runner(name, setup, model)
            items[name, STEP] = lambda r=runner: r.step(setup)
            if name in LEARNED:
                for label, fn in unavoidable_passes(runner, setup).items():
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
