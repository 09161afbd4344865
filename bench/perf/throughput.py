"""Images per second of the data path (augmented training batches) and of evaluation (inference).

The data path is the training loader a job of this dataset uses (`bench.data.pipeline`): for the
in-memory datasets, one uint8 tensor on the device, crops and flips drawn on the host and applied
to the whole batch there, then normalised; the figure is the median over blocks of batches after
untimed warm-up batches (`timing.block_rates`). Evaluation is `bench.evaluate.clean.top1`, what a
job runs after its epochs (eval mode, no gradients, the runtime's autocast), over the first
batches of the test split, repeated; warm-up passes are not timed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

import torch
from torch import nn

from bench.evaluate.clean import top1
from bench.perf import timing
from bench.runtime import Runtime


def data_path(
    loader: Iterable, device: torch.device, warmup: int, count: int, blocks: int, clock: timing.Clock = "wall"
) -> timing.Summary:
    """Images per second the loader delivers (median over `blocks` blocks of `count` batches)."""
    batches = timing.epochs(loader)
    return timing.Summary.of(timing.block_rates(batches, device, warmup, count, blocks, clock=clock))


def evaluation(
    model: nn.Module,
    loader: Iterable,
    rt: Runtime,
    batches: int,
    warmup: int,
    repeats: int,
    clock: timing.Clock = "wall",
) -> timing.Summary:
    """Images per second of `top1` over the first `batches` batches of `loader`."""
    counted: list[int] = []

    def counting(items: Iterable) -> Iterator:
        for images, labels in items:
            counted.append(len(labels))
            yield images, labels

    def one_pass() -> None:
        top1(model, counting(itertools.islice(loader, batches)), rt)

    rates = []
    for r in range(warmup + repeats):
        counted.clear()
        elapsed = timing.seconds(one_pass, rt.device, clock)
        if r >= warmup:
            rates.append(sum(counted) / elapsed)
    return timing.Summary.of(rates)
