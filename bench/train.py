"""`run_job(job, settings)`: train one cell and write its run folder. Read it top to bottom.

Per epoch: one pass over the shuffled, augmented training split through `method.loss`, then
top-1 of every network the method reports, then `metrics.jsonl` and the checkpoint are rewritten
atomically. A re-run resumes from the checkpoint (model, method, optimizer, every RNG) and so
produces the same numbers as an uninterrupted run; a finished job is never retrained.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.profiler import record_function

from bench import build, distributed, records, registry, runtime, safe_io
from bench.data.base import DatasetSpec
from bench.data.pipeline import build_loaders
from bench.errors import BenchError
from bench.job import Job
from bench.methods.base import Method
from bench.optim import set_learning_rates
from bench.recipe import Recipe
from bench.records import MetricsRow, Result
from bench.settings import Settings

EpochCallback = Callable[[Job, MetricsRow], None]


class NonFiniteLoss(BenchError):
    """The training loss became NaN or infinite."""


class _Log:
    """Plain-text log lines in the run folder (and on stdout when asked).

    A line that cannot be written (a full disk) is dropped rather than raised: the job fails on
    its next record write, which names the full disk, instead of on its log."""

    def __init__(self, folder: Path, name: str, echo: bool) -> None:
        self.file = records.open_log(folder, name)
        self.echo = echo

    def __call__(self, message: str) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}"
        with contextlib.suppress(OSError):
            self.file.write(line + "\n")
        if self.echo:
            print(line, flush=True)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()


def run_job(
    job: Job,
    settings: Settings,
    *,
    echo: bool = False,
    on_epoch: EpochCallback | None = None,
    group: distributed.Group = distributed.SINGLE,
) -> Result:
    """Train `job` (resuming if it was interrupted) and write its result; never raises for a job failure.

    Returns the result; `status` is 'ok' or 'error' (with the message). KeyboardInterrupt (and
    SIGTERM, SIGHUP: bench/signals.py) propagates and leaves the checkpoint in place for the next
    run. In a multi-GPU job every rank calls this; only rank 0 writes to the run folder (see
    bench/distributed.py). A full disk is an error naming it, even when the result cannot be written.
    """
    run_dir = records.prepare(job, settings.runs_root) if group.is_main else job.run_dir(settings.runs_root)
    log = _Log(run_dir, records.LOG if group.is_main else distributed.RANK_LOG.format(rank=group.rank), echo)
    started = time.time()
    outcome: dict[str, Any] = {}
    try:
        outcome = _train(job, settings, run_dir, log, on_epoch, group)
        status, error = "ok", None
    except BenchError as exc:
        log(f"error: {exc}")
        status, error = "error", str(exc)
    except Exception as exc:  # a bug or an environment failure: keep the traceback in the log
        log("error:\n" + traceback.format_exc())
        if safe_io.is_full(exc):
            error = str(safe_io.NoSpace(run_dir, exc))  # type: ignore[arg-type]
        else:
            error = f"{type(exc).__name__}: {exc} (traceback in {run_dir / records.LOG})"
        status = "error"
    finally:
        log.close()
    result = Result(
        id=job.id,
        suite=job.suite,
        label=job.method,
        status=status,
        error=error,
        wall_seconds=round(time.time() - started, 3),
        **outcome,
    )
    if group.is_main:
        try:
            records.write_result(run_dir, result)
        except safe_io.NoSpace as exc:  # the caller still gets the result, and says why it is not on disk
            if result.ok:
                result = Result(id=job.id, suite=job.suite, label=job.method, status="error", error=str(exc))
    return result


def _train(
    job: Job,
    settings: Settings,
    run_dir: Path,
    log: _Log,
    on_epoch: EpochCallback | None,
    group: distributed.Group,
) -> dict[str, Any]:
    """Train every epoch not yet completed; returns the result's fields (metrics, provenance)."""
    recipe = job.recipe
    rt = runtime.resolve(settings.run)
    dataset: DatasetSpec = registry.get("datasets", job.dataset).load()
    data_gen = torch.Generator().manual_seed(job.seed)
    train_loader, test_loader, sizes = build_loaders(dataset, recipe, settings, rt, data_gen)
    steps_per_epoch = len(train_loader)
    # With several GPUs every rank takes its share of each global batch (steps stay global).
    train_loader, test_loader = distributed.shard(train_loader, group), distributed.shard(test_loader, group)

    weights, provenance = _pretrained(job, settings, log)
    built = build.build(
        job,
        dataset,
        device=rt.device,
        steps_per_epoch=steps_per_epoch,
        memory_format=rt.memory_format,
        weights=weights,
    )
    model, method, optimizer, method_gen = built.model, built.method, built.optimizer, built.generator
    # What the numbers rest on besides the spec: the images actually read (a partial copy of a
    # release is usable but not the release) and the pretrained file's content.
    provenance = {"images": sizes, **provenance}

    history, start_epoch = _resume(
        run_dir, job, model, method, optimizer, data_gen, method_gen, log, owner=group.is_main
    )
    if rt.compile:  # after setup (a teacher copied from the model stays eager) and the resume
        runtime.compile_model(model, warn=lambda message: log(f"warning: {message}"))
    train_step = distributed.wrap(model, method, group, rt)  # DDP broadcasts rank 0's state here
    group.check_in_sync(train_step, start_epoch, when="when resuming")
    trainer = Trainer(model, method, optimizer, train_step, recipe, rt, steps_per_epoch, group)
    log(
        f"{job.label}: {sizes['train']} train, "
        f"{sizes['test']} test images, {steps_per_epoch} steps per epoch, {rt.describe()}"
        + (f", rank {group.rank} of {group.world_size} ({group.backend})" if group.active else "")
        + (f", resuming after epoch {start_epoch}" if start_epoch else "")
    )

    for epoch in range(start_epoch, recipe.epochs):
        tic = time.time()
        trained = _train_epoch(trainer, train_loader, epoch, group)
        top1: dict[str, float] = {}
        if (epoch + 1) % recipe.eval_every == 0 or epoch + 1 == recipe.epochs:
            group.copy_buffers_from_main(train_step)
            top1 = {
                name: distributed.top1(net, test_loader, rt, group)
                for name, net in method.eval_models(model).items()
            }
        row = dataclasses.replace(trained, test_top1=top1, seconds=round(time.time() - tic, 3))
        history.append(row)
        group.check_in_sync(train_step, epoch + 1, when=f"after epoch {epoch + 1}")
        if group.is_main:
            records.write_metrics(run_dir, history)
            _save_checkpoint(run_dir, job, epoch + 1, history, model, method, optimizer, data_gen, method_gen)
        accuracy = " ".join(f"{k}={v:.2f}" for k, v in row.test_top1.items())
        log(
            f"epoch {epoch + 1}/{recipe.epochs} loss {row.train_loss:.4f} lr {row.lr:.4g} "
            f"top1 {accuracy} ({row.seconds:.1f}s)"
        )
        if on_epoch:
            on_epoch(job, row)

    return {**summarize(history, type(method), rt, group), **provenance}


def _pretrained(job: Job, settings: Settings, log: _Log) -> tuple[Path | None, dict[str, Any]]:
    """The ImageNet weights file the job starts from (None: from scratch) and its provenance."""
    if not job.recipe.pretrained:
        return None, {}
    # timm (2 s to import) only when a job trains: `bench run` on a finished suite, `leaderboard`
    # and `status` import this module and train nothing.
    from bench.models import pretrained

    weights = pretrained.weights_file(job.backbone, settings.weights_dir)
    digest = pretrained.sha256(weights)
    log(f"pretrained weights: {weights} (sha256 {digest[:16]}…)")
    return weights, {"pretrained": {"file": str(weights), "sha256": digest}}


def _train_epoch(trainer: Trainer, batches: Iterable, epoch: int, group: distributed.Group) -> MetricsRow:
    """One epoch of training; its metrics row (loss and logs averaged over steps and ranks)."""
    tic = time.time()
    trainer.model.train()
    trainer.method.train()
    loss_sum, log_sums = trainer.epoch(batches, epoch)
    lr, steps, device = trainer.lr, trainer.steps_per_epoch, trainer.rt.device
    loss_sum = group.mean(loss_sum)
    log_sums = {
        key: group.mean(torch.as_tensor(value, dtype=torch.float32, device=device))
        for key, value in log_sums.items()
    }
    if not torch.isfinite(loss_sum):
        raise NonFiniteLoss(f"loss became {loss_sum.item()} in epoch {epoch + 1} (lr {lr:.4g})")
    return MetricsRow(
        epoch=epoch + 1,
        lr=lr,
        train_loss=loss_sum.item() / steps,
        train={k: v.item() / steps for k, v in log_sums.items()},
        train_seconds=round(time.time() - tic, 3),
    )


class Trainer:
    """One training step and one epoch of them, as every job runs them (and `bench perf` times).

    The step's parts run in profiler ranges named `step:data`, `step:forward` (the method's
    loss: mixing and the model's forward), `step:backward`, `step:optimizer` (lr, zeroing the
    gradients, clipping, update, `after_step`) and `step:logging`, so `torch.profiler` splits a
    step the same way everywhere. Losses and logs are summed on the device; the host reads them
    only every `rt.sync_every` steps (the finite-loss check) and at the end of an epoch, so on a
    GPU the host queues steps ahead of the device instead of waiting for each one.
    """

    def __init__(
        self,
        model: nn.Module,
        method: Method,
        optimizer: torch.optim.Optimizer,
        train_step: nn.Module,
        recipe: Recipe,
        rt: runtime.Runtime,
        steps_per_epoch: int,
        group: distributed.Group = distributed.SINGLE,
    ) -> None:
        self.model, self.method, self.optimizer, self.train_step = model, method, optimizer, train_step
        self.recipe, self.rt, self.steps_per_epoch, self.group = recipe, rt, steps_per_epoch, group
        self.trainable = [p for g in optimizer.param_groups for p in g["params"]]
        self.lr = optimizer.param_groups[0]["lr"]  # the backbone's lr at the last step

    def step(
        self, images: torch.Tensor, labels: torch.Tensor, index: int
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Global iteration `index`: the method's loss, backward, optimizer step; returns (loss, logs)."""
        with record_function("step:optimizer"):
            self.lr = set_learning_rates(self.optimizer, self.recipe, index, self.steps_per_epoch)
        with record_function("step:forward"), self.rt.autocast():
            loss, logs = self.train_step(images, labels)
        with record_function("step:optimizer"):  # after the loss, which may leave gradients behind
            self.optimizer.zero_grad(set_to_none=True)
        with record_function("step:backward"):
            loss.backward()
        with record_function("step:optimizer"):
            if self.recipe.grad_clip:
                torch.nn.utils.clip_grad_norm_(self.trainable, self.recipe.grad_clip)
            self.optimizer.step()
            self.method.after_step(self.model)
        return loss, logs

    def epoch(self, batches: Iterable, epoch: int) -> tuple[torch.Tensor, dict[str, Any]]:
        """Train on every batch; returns the sum of the losses (on the device) and of each log.

        A log value that is a tensor is summed on the device, a Python number on the host, so
        neither makes the host wait for the device."""
        loss_sum = torch.zeros((), device=self.rt.device)
        log_sums: dict[str, Any] = {}
        for i, (images, labels) in enumerate(_ranged(batches, "step:data")):
            loss, logs = self.step(images, labels, epoch * self.steps_per_epoch + i)
            with record_function("step:logging"):
                loss_sum += loss.detach().float()
                for key, value in logs.items():
                    value = value.detach().float() if isinstance(value, torch.Tensor) else value
                    log_sums[key] = log_sums[key] + value if key in log_sums else value
                if (i + 1) % self.rt.sync_every == 0 and not self.group.all_finite(loss_sum):
                    raise NonFiniteLoss(
                        f"loss became {loss_sum.item()} in epoch {epoch + 1} by step {i + 1} "
                        f"(lr {self.lr:.4g}); lower the learning rate, or use precision = 'fp32' "
                        "if bf16 overflowed"
                    )
        return loss_sum, log_sums


def _ranged(batches: Iterable, name: str) -> Iterator:
    """The items of `batches`, each fetched inside the profiler range `name`."""
    iterator = iter(batches)
    while True:
        with record_function(name):
            item = next(iterator, None)
        if item is None:
            return
        yield item


def summarize(
    history: list[MetricsRow],
    method_cls: type[Method],
    rt: runtime.Runtime,
    group: distributed.Group = distributed.SINGLE,
) -> dict[str, Any]:
    """The result's fields: per network the final, best and median-of-last-10 top-1, and what ran it."""
    from bench import reducers

    curves = records.curves_from(history)
    metrics = {
        network: {r: reducers.reduce(values, r) for r in ("final", "best", "median_last10")}
        for network, values in curves.items()
    }
    return {
        "epochs_completed": len(history),
        "metrics": metrics,
        "primary_network": method_cls.primary_network,
        "train_seconds": round(sum(r.train_seconds for r in history), 3),
        "versions": runtime.versions(rt),
        "machine": runtime.machine(rt, group.world_size),
    }


# --- checkpoints ------------------------------------------------------------------------------


def _save_checkpoint(
    run_dir: Path,
    job: Job,
    epoch: int,
    history: list,
    model,
    method,
    optimizer,
    data_gen: torch.Generator,
    method_gen: torch.Generator,
) -> None:
    state = {
        "job_id": job.id,
        "epoch": epoch,
        "history": [row.to_dict() for row in history],
        "model": model.state_dict(),
        "method": method.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": {
            "data": data_gen.get_state(),
            "method": method_gen.get_state(),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        },
    }
    records.write_checkpoint(run_dir, state)


def _resume(
    run_dir: Path, job: Job, model, method, optimizer, data_gen, method_gen, log: _Log, owner: bool = True
) -> tuple[list, int]:
    """Restore the last checkpoint if there is a usable one; returns (history, completed epochs).
    Only the `owner` (rank 0) deletes or rewrites files; the other ranks just read. metrics.jsonl
    is rewritten from the checkpoint's history, which repairs a torn or shortened file."""
    path = run_dir / records.CHECKPOINT
    try:
        state = records.read_checkpoint(run_dir)
        if state is not None and state.get("job_id") != job.id:
            raise ValueError(f"checkpoint belongs to job {state.get('job_id')}, not {job.id}")
        history = [MetricsRow.from_dict(row) for row in state["history"]] if state is not None else []
    except Exception as exc:  # truncated, corrupt or foreign: start again rather than crash the suite
        log(
            f"warning: checkpoint {path} is unusable ({type(exc).__name__}: {exc}); restarting this job from scratch"
        )
        state = None
    if state is None:
        if owner:
            records.remove(run_dir, records.CHECKPOINT, records.METRICS)
        return [], 0
    model.load_state_dict(state["model"])
    method.load_state_dict(state["method"])
    optimizer.load_state_dict(state["optimizer"])
    data_gen.set_state(state["rng"]["data"])
    method_gen.set_state(state["rng"]["method"])
    torch.set_rng_state(state["rng"]["torch"])
    if state["rng"]["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    if owner:
        records.write_metrics(run_dir, history)
    return history, int(state["epoch"])
