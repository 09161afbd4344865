"""Where the time of a vanilla training step goes, by the torch profiler.

The target: on the CPU, a training step of the smoke suite's backbone (tiny_resnet,
synthetic data at 16 px, batch 64, SGD; `suites/smoke.yaml`) spends at least 95% of its time in
the model's forward and backward passes, not in data handling or logging. It is measured on the
real loop, `Trainer.epoch`, fed by the real training loader: the profiler records the loop's own
ranges (`step:data`, `step:forward`, `step:backward`, `step:optimizer`, `step:logging`; see
`bench.train.Trainer`) over `steps` steps after untimed warm-up steps, and each range's share is
its total time over the loop's wall time; `other` is the rest (the loop itself, and the
profiler's own bookkeeping). The same steps are also timed without the profiler, which says how
much the profiler added.

On a GPU the ranges would time the host, which runs ahead of the device, so the breakdown is
measured on the CPU only.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from dataclasses import dataclass

import torch

from bench import registry
from bench.data.pipeline import build_loaders
from bench.perf import steps, timing
from bench.recipe import Optimizer, Recipe, Schedule
from bench.runtime import Runtime
from bench.settings import Settings

# suites/smoke.yaml (tests/perf check that they agree)
SMOKE_BACKBONE, SMOKE_DATASET, SMOKE_IMAGE_SIZE = "tiny_resnet", "synthetic", 16
SMOKE_RECIPE = Recipe(
    epochs=5,
    batch_size=64,
    image_size=SMOKE_IMAGE_SIZE,
    optimizer=Optimizer(name="sgd", lr=0.1, momentum=0.9, weight_decay=5.0e-4),
    schedule=Schedule(name="cosine", min_lr=0.0),
)
RANGES = ("data", "forward", "backward", "optimizer", "logging")


@dataclass(frozen=True)
class Breakdown:
    seconds: dict[str, float]  # per range, and "other"
    total: float  # wall seconds of the profiled steps
    plain: float  # wall seconds of as many steps without the profiler
    steps: int
    threads: int  # torch threads

    def share(self, *names: str) -> float:
        return sum(self.seconds[n] for n in names) / self.total


def vanilla_step(settings: Settings, rt: Runtime, warmup: int = 5, count: int = 30) -> Breakdown:
    """Profile `count` steps of vanilla training at the smoke suite's settings on the CPU."""
    if rt.device.type != "cpu":
        raise ValueError("the step breakdown is measured on the CPU (profiler ranges time the host)")
    dataset = registry.get("datasets", SMOKE_DATASET).load()
    recipe = dataclasses.replace(SMOKE_RECIPE, augmentation=dataset.augmentation)  # as the suite expands
    train, _, _ = build_loaders(dataset, recipe, settings, rt, torch.Generator().manual_seed(0))
    first_images, first_labels = next(iter(train))
    setup = steps.Setup(
        SMOKE_BACKBONE, dataset, first_images, first_labels, recipe, rt, steps_per_epoch=len(train)
    )
    trainer = steps.build_runner("vanilla", setup).trainer
    batches = timing.epochs(train)

    def run() -> None:
        trainer.epoch(itertools.islice(batches, count), 0)

    trainer.epoch(itertools.islice(batches, warmup), 0)
    tic = time.perf_counter()
    run()
    plain = time.perf_counter() - tic
    with timing.quiet_profiler() as prof:
        tic = time.perf_counter()
        run()
        total = time.perf_counter() - tic
    seconds = dict.fromkeys(RANGES, 0.0)
    for event in prof.events():
        name = event.name.removeprefix("step:")
        if event.name.startswith("step:") and name in seconds:
            seconds[name] += event.time_range.elapsed_us() / 1e6
    seconds["other"] = total - sum(seconds.values())
    return Breakdown(seconds, total, plain, count, torch.get_num_threads())
