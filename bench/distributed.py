"""Training one job on several GPUs: one process per GPU, DDP, everything written once by rank 0.

A job whose suite asks for `resources.gpus: k` (k > 1) is started by its worker as k rank
processes on one machine (`bench/executors/launch.py`), with the environment `torchrun
--standalone` would give them (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT). On GPUs
they talk over NCCL; on a machine without GPUs, k CPU processes stand in for them over gloo (how
the tests run this path). Inside `bench/train.py` the group changes five things:

* Data. Every rank iterates the same shuffled, augmented *global* batches (same generator, same
  seed) and keeps its contiguous share of each (`shard`), so the shards are disjoint, their union
  is exactly the batch a one-process run trains on, and all ranks' generators stay in step: rank
  0's checkpointed RNG states are every rank's, and a resumed run continues exactly. Augmenting
  the global batch on every rank costs little for the in-memory loader (an indexed gather on the
  GPU); a loader that can shard itself instead (a sampler-driven DataLoader) provides
  `shard(rank, world_size)`, returning batches that cover the split once across ranks and count
  the images they gave in `samples`.
* Model. The model and the method are wrapped *together* in one DistributedDataParallel module
  whose forward is `method.loss(model, images, labels)` (`wrap`), so the gradients of every
  trained part, the classifier and a method's own networks (a mix block), are averaged across
  ranks. Methods always see the plain, unwrapped model, in every run, so `model.forward_features`
  and hooks work the same with one process or eight. `find_unused_parameters` is on because
  some methods train a part only on some steps; it costs one autograd-graph traversal per step.
  Methods draw from the same seeded generator on every rank: one lambda per step for the whole
  global batch, as in a one-process run, with partners drawn within each rank's share.
* Numbers. The epoch's losses are averaged over ranks; a NaN check is a collective, so all ranks
  stop together; before each evaluation, rank 0's buffers (BatchNorm statistics) are copied to
  every rank, the test set is sharded and the correct counts are summed, which gives exactly the
  top-1 rank 0's model scores alone.
* Writes. Rank 0 alone writes spec, metrics, checkpoint and result; rank r logs to log.rank<r>.txt.
* Checks. At every epoch end the ranks compare a checksum of their parameters and stop with an
  error if they differ, so a method that lets ranks drift apart is caught, not averaged away.
"""

from __future__ import annotations

import gc
import json
import os
import signal
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from bench.runtime import Runtime

RANK_LOG = "log.rank{rank}.txt"


@dataclass(frozen=True)
class Group:
    """This process's place among a job's ranks; the default is a job of one process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def backend(self) -> str:
        return dist.get_backend() if self.active else "none"

    def all_finite(self, value: torch.Tensor) -> bool:
        """True on every rank iff `value` is finite on every rank."""
        finite = torch.isfinite(value).all()
        if not self.active:
            return bool(finite)
        flag = finite.to(torch.int32).reshape(1)
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        return bool(flag.item())

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of `value` over ranks (`value` itself with one process)."""
        if not self.active:
            return value
        total = value.detach().clone()
        dist.all_reduce(total)
        return total / self.world_size

    def copy_buffers_from_main(self, module: nn.Module) -> None:
        """Give every rank rank 0's buffers (BatchNorm running statistics, EMA buffers)."""
        if self.active:
            for buffer in module.buffers():
                dist.broadcast(buffer, src=0)

    def check_in_sync(self, module: nn.Module, *values: float, when: str) -> None:
        """Raise if the ranks' parameters (or `values`) differ: they must stay identical."""
        if not self.active:
            return
        with torch.no_grad():
            params = [p.detach().double() for p in module.parameters()]
            device = params[0].device if params else torch.device("cpu")
            checksum = torch.stack(
                [
                    sum((p.sum() for p in params), torch.zeros((), dtype=torch.float64, device=device)),
                    sum(
                        (p.square().sum() for p in params),
                        torch.zeros((), dtype=torch.float64, device=device),
                    ),
                    *(torch.tensor(float(v), dtype=torch.float64, device=device) for v in values),
                ]
            )
        low, high = checksum.clone(), checksum.clone()
        dist.all_reduce(low, op=dist.ReduceOp.MIN)
        dist.all_reduce(high, op=dist.ReduceOp.MAX)
        if not torch.equal(low, high):
            raise RuntimeError(
                f"the {self.world_size} ranks disagree {when} (parameter checksums from {low.tolist()} "
                f"to {high.tolist()}): something in this method is not synchronised across processes"
            )


SINGLE = Group()


class ShardedBatches:
    """This rank's contiguous share of every batch of a loader that yields global batches.

    Shares differ by at most one image when a batch does not split evenly (the last test batch);
    `samples` counts the images of the last pass, for exact evaluation across ranks.
    """

    def __init__(self, batches: Any, rank: int, world_size: int) -> None:
        self.batches, self.rank, self.world_size = batches, rank, world_size
        self.samples = 0

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self.samples = 0
        for images, labels in self.batches:
            share_images = images.tensor_split(self.world_size)[self.rank]
            share_labels = labels.tensor_split(self.world_size)[self.rank]
            self.samples += len(share_labels)
            yield share_images, share_labels


def shard(batches: Any, group: Group) -> Any:
    """The sharding hook: this rank's part of a loader (the loader itself with one process)."""
    if not group.active:
        return batches
    native = getattr(batches, "shard", None)
    return (
        native(group.rank, group.world_size)
        if callable(native)
        else ShardedBatches(batches, group.rank, group.world_size)
    )


class TrainStep(nn.Module):
    """`step(images, labels) -> (loss, logs)`: the method's loss on the model, as one module."""

    def __init__(self, model: nn.Module, method: nn.Module) -> None:
        super().__init__()
        self.model, self.method = model, method

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
        return self.method.loss(self.model, images, labels)


def wrap(model: nn.Module, method: nn.Module, group: Group, rt: Runtime) -> nn.Module:
    """The module the training loop calls; DDP over model and method together when there are ranks."""
    step = TrainStep(model, method)
    if not group.active:
        return step
    device_ids = [torch.cuda.current_device()] if rt.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(step, device_ids=device_ids, find_unused_parameters=True)


def top1(model: nn.Module, batches: Iterable, rt: Runtime, group: Group) -> float:
    """Top-1 over the whole split: each rank scores its shard, the correct counts are summed."""
    from bench.evaluate.clean import top1 as local_top1

    percent = local_top1(model, batches, rt)
    if not group.active:
        return percent
    seen = batches.samples
    # top1 returns 100 * correct / seen; the integer count is recovered exactly by rounding.
    counts = torch.tensor([round(percent * seen / 100), seen], dtype=torch.int64, device=rt.device)
    dist.all_reduce(counts)
    correct, total = counts.tolist()
    return 100.0 * correct / max(total, 1)


def init_from_env(rt: Runtime) -> Group:
    """Join the job's process group from the launcher's environment (one process: no group)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return SINGLE
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", os.environ["RANK"]))
    if rt.device.type == "cuda":
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if rt.device.type == "cuda" else "gloo", rank=rank, world_size=world_size)
    return Group(rank=rank, world_size=world_size, local_rank=local_rank)


def _die_with_parent() -> None:
    """Rank processes must not outlive the worker that holds the job's lock (kill -9 included)."""
    from bench import signals

    signals.die_with_parent(signal.SIGKILL)
    if "SUBMITIT_EXECUTOR" in os.environ:  # Slurm's requeue signal is the worker's to handle
        name = "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2")
        signal.signal(getattr(signal, name, signal.SIGUSR2), signal.SIG_IGN)


def rank_main(run_dir: str) -> int:
    """Entry point of one rank process: `python -m bench _rank RUN_DIR` (started by the launcher)."""
    from bench import records, runtime, safe_io, schema
    from bench.executors.worker import NO_SPACE
    from bench.settings import Settings
    from bench.train import run_job

    _die_with_parent()
    threads = os.environ.get("BENCH_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    settings = schema.build(Settings, json.loads(os.environ["BENCH_SETTINGS_JSON"]))
    job = records.read_spec(Path(run_dir))
    group = init_from_env(runtime.resolve(settings.run))
    try:
        record = run_job(job, settings, echo=group.is_main, group=group)
    finally:
        gc.collect()  # DDP's reducer (held in reference cycles) must go before its process group
        dist.destroy_process_group()
    if record.ok:
        return 0
    return NO_SPACE if safe_io.says_full(record.error) else 1
