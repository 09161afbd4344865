"""Robustness, adversarial and calibration evaluation of one finished run; results go to the run
folder's `robustness.json`.

The run's final networks are rebuilt from `spec.json` and `last.pt` (`bench.models.restore`);
every network the method reports (`Method.eval_models`: the online network, and the EMA teacher
where there is one) is evaluated on the run's own test split (the same images, and the same
subset for reduced-scale runs, as its training-time evaluation).

`robustness.json` holds `evaluations[<evaluator>][<network>]`: the numbers, the settings that
produced them (ε, steps, step size, restarts, seed, data source) and where and when they were
computed. It is merged, never overwritten: each evaluator's result is written atomically as soon
as it is done, an evaluation already stored with the same settings is not redone (unless forced),
and a failure leaves everything stored before it in place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from bench import records, runtime
from bench.data.base import DataError, ImageSet, subset_indices
from bench.data.corruptions import GENERATION_SCHEME, RELEASES, CorruptionSet, describe, generated, release
from bench.evaluate import attacks, calibration, corruption
from bench.evaluate.config import RobustnessConfig
from bench.models.restore import restore
from bench.settings import Settings

STORE = records.ROBUSTNESS
DIAGRAM = "reliability.png"
STORE_VERSION = records.ROBUSTNESS_VERSION
PIXEL_SPACE = "[0, 1] pixels; normalisation inside the model; model in eval mode"

Log = Callable[[str], None]


@dataclass
class Outcome:
    run_dir: Path
    evaluated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already stored with the same settings


def read_store(run_dir: Path) -> dict[str, Any]:
    """robustness.json as plain data ({} if absent); its typed form is `records.RobustnessStore`."""
    return records.read_robustness(run_dir).to_dict()


def _merge(run_dir: Path, job_id: str, evaluator: str, entries: dict[str, Any]) -> None:
    """Write `entries` (network -> record) for `evaluator`, keeping everything else stored."""
    records.merge_robustness(run_dir, job_id, evaluator, entries)


def _is_stored(store: dict[str, Any], evaluator: str, networks: list[str], settings: dict[str, Any]) -> bool:
    entries = store.get("evaluations", {}).get(evaluator, {})
    return all(entries.get(n, {}).get("settings") == settings for n in networks)


def _batches(
    test: ImageSet, batch_size: int, device: torch.device
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    for i in range(0, len(test), batch_size):
        images = test.images[i : i + batch_size].to(device, non_blocking=True).float().div_(255)
        yield images, test.labels[i : i + batch_size].to(device)


@torch.no_grad()
def _clean(nets: dict[str, nn.Module], test: ImageSet, batch_size: int, device: torch.device):
    """network -> (top-label confidences, correctness) over the test split."""
    conf: dict[str, list] = {n: [] for n in nets}
    hit: dict[str, list] = {n: [] for n in nets}
    for x, y in _batches(test, batch_size, device):
        for name, net in nets.items():
            c, pred = net(x).softmax(dim=1).max(dim=1)
            conf[name].append(c.cpu())
            hit[name].append((pred == y).cpu())
    return {n: (torch.cat(conf[n]), torch.cat(hit[n])) for n in nets}


def _adversarial(
    net: nn.Module,
    test: ImageSet,
    batch_size: int,
    device: torch.device,
    attack: attacks.Attack,
    restarts: int = 1,
) -> dict[str, Any]:
    """Top-1 under `attack` (a point counts as robust only if it survives every restart)."""
    correct, total, linf, low, high = 0, 0, 0.0, 1.0, 0.0
    for x, y in _batches(test, batch_size, device):
        robust = torch.ones_like(y, dtype=torch.bool)
        for _ in range(restarts):
            adv = attack(net, x, y)
            with torch.no_grad():
                robust &= net(adv).argmax(dim=1) == y
            linf = max(linf, float((adv - x).abs().max()))
            low, high = min(low, float(adv.min())), max(high, float(adv.max()))
        correct += int(robust.sum())
        total += len(y)
    top1 = 100.0 * correct / max(total, 1)
    return {"top1": top1, "error": 100.0 - top1, "n": total, "linf_max_255": linf * 255, "range": [low, high]}


def _corruption_set(
    run, config: RobustnessConfig, settings: Settings, test: ImageSet, kind: str
) -> CorruptionSet:
    job = run.job
    if kind == "release":
        if job.dataset not in RELEASES:
            raise DataError(
                f"no released corrupted test set is known for dataset {job.dataset!r} (known: {', '.join(RELEASES)}); "
                "use corruption_source 'generated' (--corruption-source generated)"
            )
        fraction = job.recipe.test_fraction
        full = run.dataset.split_sizes.get("test", len(test))
        indices = None if fraction >= 1 else subset_indices(full, fraction).numpy()
        cset = release(job.dataset, settings.data_root, indices=indices, classes=test.classes)
        labels = getattr(cset, "labels", None)
        if labels is not None:  # a .npy release repeats the test labels in every severity block
            first = labels[: cset.block] if indices is None else labels[indices]
            if len(first) != len(test) or not np.array_equal(first.astype(np.int64), test.labels.numpy()):
                raise DataError(
                    f"{cset.source}: labels.npy does not match the labels of {job.dataset}'s test split "
                    "(a different dataset's corrupted set?)"
                )
    else:
        cache = settings.cache_dir / "corruptions" / job.dataset
        cset = generated(test.images.numpy(), test.labels.numpy(), cache, config.seed)
    shape = getattr(cset, "image_shape", None)
    if shape is not None and tuple(shape) != tuple(test.images.shape[2:]):
        raise DataError(
            f"{cset.source}: images are {shape[0]}x{shape[1]} px but run {run.run_dir} takes "
            f"{test.images.shape[2]}x{test.images.shape[3]} px"
        )
    return cset


def evaluate_run(
    run_dir: Path,
    config: RobustnessConfig,
    settings: Settings,
    *,
    force: bool = False,
    log: Log = lambda _: None,
) -> Outcome:
    """Run every evaluator `config` asks for (plus clean top-1) on the run's networks and store them.

    Raises BenchError (RestoreError, DataError) for a run that cannot be evaluated; whatever an
    earlier evaluator stored stays stored.
    """
    rt = runtime.resolve(settings.run)
    run = restore(Path(run_dir), rt.device)
    job, ds = run.job, run.dataset
    nets = {
        name: attacks.PixelSpace(net, ds.mean, ds.std, autocast=rt.autocast, channels_last=rt.channels_last)
        .to(rt.device, memory_format=rt.memory_format)
        .eval()
        for name, net in run.networks().items()
    }
    names = list(nets)
    test = ds.load(settings.data_root, "test", job.recipe.image_size).subset(job.recipe.test_fraction)
    n, bs, eps = len(test), config.batch_size, config.eps_255 / 255
    store = read_store(run.run_dir)
    outcome = Outcome(run.run_dir)
    meta = {
        "checkpoint_epoch": run.epoch,
        "device": rt.describe(),
        "git_commit": runtime.git_commit(),
        "torch": torch.__version__,
    }

    def stored(evaluator: str, spec: dict[str, Any]) -> bool:
        if not force and store.get("run_id") == job.id and _is_stored(store, evaluator, names, spec):
            outcome.skipped.append(evaluator)
            return True
        return False

    def save(
        evaluator: str, spec: dict[str, Any], per_network: dict[str, dict[str, Any]], seconds: float
    ) -> None:
        stamp = {
            "settings": spec,
            **meta,
            "seconds": round(seconds, 3),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        _merge(run.run_dir, job.id, evaluator, {k: {**v, **stamp} for k, v in per_network.items()})
        outcome.evaluated.append(evaluator)
        log(
            f"{evaluator}: "
            + ", ".join(f"{k} {_headline(evaluator, v)}" for k, v in per_network.items())
            + f" ({seconds:.1f} s)"
        )

    clean_spec = {"images": n, "test_fraction": job.recipe.test_fraction}
    ece_spec = {"bins": config.ece_bins, "images": n}
    need_clean = not stored("clean", clean_spec)
    need_ece = config.ece and not stored("ece", ece_spec)
    if need_clean or need_ece:
        tic = time.time()
        outputs = _clean(nets, test, bs, rt.device)
        if need_clean:
            save(
                "clean",
                clean_spec,
                {k: {"top1": 100.0 * float(h.float().mean()), "n": n} for k, (_, h) in outputs.items()},
                time.time() - tic,
            )
        if need_ece:
            cals = {k: calibration.calibration(c, h, config.ece_bins) for k, (c, h) in outputs.items()}
            title = f"{job.label}: test split, {config.ece_bins} bins"
            calibration.reliability_diagram(cals, run.run_dir / DIAGRAM, title)
            save(
                "ece",
                ece_spec,
                {k: {**c.to_record(), "diagram": DIAGRAM} for k, c in cals.items()},
                time.time() - tic,
            )

    if config.fgsm:
        spec = {
            "eps": eps,
            "eps_255": config.eps_255,
            "steps": 1,
            "step_size": eps,
            "random_start": False,
            "restarts": 1,
            "seed": None,
            "loss": "cross-entropy of the true label, untargeted",
            "space": PIXEL_SPACE,
            "implementation": "bench.evaluate.attacks.fgsm (tested equal to torchattacks 3.5.1 FGSM)",
            "images": n,
        }
        if not stored("fgsm", spec):
            tic = time.time()
            fgsm = lambda net, x, y: attacks.fgsm(net, x, y, eps)  # noqa: E731
            save(
                "fgsm",
                spec,
                {k: _adversarial(net, test, bs, rt.device, fgsm) for k, net in nets.items()},
                time.time() - tic,
            )

    attacked = (
        test
        if not config.attack_images
        else ImageSet(test.images[: config.attack_images], test.labels[: config.attack_images])
    )
    if config.pgd:
        spec = {
            "eps": eps,
            "eps_255": config.eps_255,
            "steps": config.pgd_steps,
            "step_size": config.pgd_step_size_255 / 255,
            "step_size_255": config.pgd_step_size_255,
            "random_start": config.pgd_random_start,
            "restarts": config.pgd_restarts,
            "seed": config.seed,
            "batch_size": bs,  # the random starts are drawn batch by batch
            "loss": "cross-entropy of the true label, untargeted",
            "space": PIXEL_SPACE,
            "implementation": "bench.evaluate.attacks.pgd (tested equal to torchattacks 3.5.1 PGD without random start)",
            "images": len(attacked),
        }
        if not stored("pgd", spec):
            tic = time.time()
            per_net = {}
            for k, net in nets.items():
                gen = torch.Generator().manual_seed(config.seed)
                step = config.pgd_step_size_255 / 255
                pgd = lambda net, x, y, g=gen, s=step: attacks.pgd(  # noqa: E731
                    net,
                    x,
                    y,
                    eps=eps,
                    step_size=s,
                    steps=config.pgd_steps,
                    random_start=config.pgd_random_start,
                    generator=g,
                )
                per_net[k] = _adversarial(net, attacked, bs, rt.device, pgd, restarts=config.pgd_restarts)
            save("pgd", spec, per_net, time.time() - tic)

    if config.autoattack:
        spec = {
            "eps": eps,
            "eps_255": config.eps_255,
            "version": config.autoattack_version,
            "seed": config.seed,
            "implementation": f"pyautoattack {_version('pyautoattack')} (reference implementation, Croce & Hein)",
            "space": PIXEL_SPACE,
            "images": len(attacked),
        }
        if not stored("autoattack", spec):
            tic = time.time()
            x, y = attacked.images.to(rt.device).float().div_(255), attacked.labels.to(rt.device)
            per_net = {}
            for k, net in nets.items():
                adv = attacks.autoattack(
                    net, x, y, eps=eps, version=config.autoattack_version, seed=config.seed, batch_size=bs
                )
                with torch.no_grad():
                    hits = sum(
                        int((net(adv[i : i + bs]).argmax(1) == y[i : i + bs]).sum())
                        for i in range(0, len(y), bs)
                    )
                top1 = 100.0 * hits / len(y)
                per_net[k] = {
                    "top1": top1,
                    "error": 100 - top1,
                    "n": len(y),
                    "linf_max_255": float((adv - x).abs().max()) * 255,
                }
            save("autoattack", spec, per_net, time.time() - tic)

    if config.corruption:
        kind = config.corruption_source
        if kind == "auto":
            kind = "release" if job.dataset in RELEASES else "generated"
        generated_by = {"seed": config.seed, "scheme": GENERATION_SCHEME} if kind == "generated" else {}
        spec = {"source": kind, **generated_by, "images": n}
        if not stored("corruption", spec):
            tic = time.time()
            if kind == "generated":
                log(
                    f"corruption: the 19 × 5 generated corruptions of {n} test images (made once, then cached)"
                )
            cset = _corruption_set(run, config, settings, test, kind)
            cells = corruption.evaluate(nets, cset, bs, rt.device)
            about = describe(cset)
            per_net = {k: {**corruption.aggregates(c), "cells": c, **about} for k, c in cells.items()}
            save("corruption", spec, per_net, time.time() - tic)
    return outcome


def _headline(evaluator: str, record: dict[str, Any]) -> str:
    if evaluator == "ece":
        return f"ECE {record['ece']:.2f}%"
    if evaluator == "corruption":
        c19 = record.get("cacc19")
        return (
            f"cacc19 {c19:.2f}, cacc15 {record['cacc15']:.2f}"
            if c19 is not None
            else f"cacc15 {record['cacc15']:.2f}"
        )
    if evaluator in ("fgsm", "pgd", "autoattack"):
        return f"top-1 {record['top1']:.2f} (error {record['error']:.2f})"
    return f"top-1 {record['top1']:.2f}"


def _version(package: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
