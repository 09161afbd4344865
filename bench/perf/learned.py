"""What an AutoMix / AdAutoMix step costs, against the passes it cannot avoid (a benchmark script).

    python -m bench.perf.learned [--batch-size 100] [--repeats 3] [--device cpu]
                                 [--clock wall|process] [--threads N]

A CIFAR ResNet-18 (CIFAR stem, 32 px, 100 classes) at batch 100 with each method's CIFAR defaults
(AdAutoMix N = 3). Each unavoidable pass is timed on its own:

* AdAutoMix: the teacher's forward for the stage-3 map; the classifier's forward + backward on the
  clean batch, on the plain (linear) mixup and on the generated mix; the teacher's forward +
  backward to the generator's mix (input gradient only: the teacher is frozen);
* AutoMix: the same without the linear mixup;

then the full training step (loss, backward, optimizer step, EMA update) and a vanilla step (one
forward + backward on clean images and an optimizer step). Everything else in a step (Mix Block,
mixing, EMA, optimizer) is overhead, so `full step / sum of passes` shows how close the step is to
its floor. Timings are medians over `repeats` interleaved rounds after a warm-up round, on
whatever machine runs it: report them with the hardware line and the load (`/proc/loadavg`)
printed below the table. On a machine others are using, wall times mostly measure their load;
`--threads 1 --clock process` times this process's CPU time instead (as `bench.perf.methods`
does). `measure()` returns the rows for `bench perf`.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from bench import registry, runtime
from bench.methods.base import MethodContext
from bench.methods.learned import LearnedMix
from bench.methods.targets import one_hot, soft_cross_entropy
from bench.models import features
from bench.models.backbones import build_backbone

NUM_CLASSES, IMAGE_SIZE = 100, 32


def _timer(device: torch.device, clock: str) -> Callable[[Callable[[], Any]], float]:
    """Seconds of `fn` by the wall clock, or by this process's CPU time (`clock="process"`)."""
    now = time.perf_counter if clock == "wall" else time.process_time

    def run(fn: Callable[[], Any]) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = now()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return now() - start

    return run


def _setup(name: str, backbone: str, device: torch.device, seed: int):
    torch.manual_seed(seed)
    model = build_backbone(backbone, num_classes=NUM_CLASSES, image_size=IMAGE_SIZE).to(device)
    ctx = MethodContext(
        num_classes=NUM_CLASSES,
        image_size=IMAGE_SIZE,
        label_smoothing=0.0,
        generator=torch.Generator().manual_seed(seed),
        device=device,
        steps_per_epoch=500,
        total_steps=500 * 800,
        backbone=backbone,
    )
    cls = registry.get("methods", name).load()
    method = cls(cls.Params(), ctx).to(device)
    method.setup(model)
    params = [*model.parameters(), *(p for g in method.param_groups() for p in g["params"])]
    optimizer = torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-4)
    return model, method, optimizer


def _passes(model, method: LearnedMix, images, labels) -> dict[str, Callable[[], Any]]:
    """The unavoidable passes of one step, each as a callable on realistic inputs."""
    targets = one_hot(labels, NUM_CLASSES)
    mixed = method.preview(model, images, labels).images  # a real generated mix (no side effects)

    def classifier(x: torch.Tensor, head) -> Callable[[], Any]:
        def run() -> None:
            model.zero_grad(set_to_none=True)
            soft_cross_entropy(head(features.pooled(model, x)), targets).backward()

        return run

    def teacher_to_generator() -> None:
        x = mixed.detach().requires_grad_(True)
        soft_cross_entropy(method.teacher_mix_logits(x), targets).backward()

    passes = {"teacher forward (stage-3 map)": lambda: method.teacher_clean(images)}
    passes["classifier fwd+bwd, clean"] = classifier(images, features.classifier(model))
    if method.name == "adautomix":
        passes["classifier fwd+bwd, linear mix"] = classifier(mixed, method.head_mix)
    passes["classifier fwd+bwd, generated mix"] = classifier(mixed, method.head_mix)
    passes["teacher fwd+bwd to the generator"] = teacher_to_generator
    return passes


def _vanilla_step(model, optimizer, images: torch.Tensor, labels: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    soft_cross_entropy(model(images), one_hot(labels, NUM_CLASSES)).backward()
    optimizer.step()


def _train_step(model, method: LearnedMix, optimizer, images: torch.Tensor, labels: torch.Tensor) -> None:
    """One training iteration exactly as `bench.train` runs it."""
    loss, _ = method.loss(model, images, labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    method.after_step(model)


def measure(
    batch_size: int = 100,
    repeats: int = 3,
    device: str = "cpu",
    seed: int = 0,
    clock: str = "wall",
    backbone: str = "resnet18",
) -> list[dict[str, Any]]:
    """Rows {method, measure, seconds, vs_sum, vs_vanilla} for vanilla, AutoMix and AdAutoMix.

    Every timed item runs once per round, rounds repeated `repeats` times after a warm-up round,
    so a change in machine load shifts all items alike instead of biasing the ratios. On a shared
    CPU, `clock="process"` with one thread counts only this process's CPU time,
    which the other processes' load does not inflate.
    """
    if clock not in ("wall", "process"):
        raise ValueError(f"clock must be 'wall' or 'process', got {clock!r}")
    dev = torch.device(device)
    timer = _timer(dev, clock)
    gen = torch.Generator().manual_seed(seed)
    images = torch.randn(batch_size, 3, IMAGE_SIZE, IMAGE_SIZE, generator=gen).to(dev)
    labels = torch.randint(NUM_CLASSES, (batch_size,), generator=gen).to(dev)

    items: dict[tuple[str, str], Callable[[], Any]] = {}
    for name in ("automix", "adautomix"):
        model, method, optimizer = _setup(name, backbone, dev, seed)
        if not items:  # the vanilla step: the same network on clean images, its own optimizer
            plain = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
            items["vanilla", "step"] = functools.partial(_vanilla_step, model, plain, images, labels)
        for label, fn in _passes(model, method, images, labels).items():
            items[name, label] = fn
        items[name, "full step"] = functools.partial(_train_step, model, method, optimizer, images, labels)

    times: dict[tuple[str, str], list[float]] = {key: [] for key in items}
    for fn in items.values():
        fn()  # warm-up: allocator, oneDNN primitive caches, lazy inits
    for _ in range(repeats):
        for key, fn in items.items():
            times[key].append(timer(fn))
    seconds = {key: statistics.median(values) for key, values in times.items()}

    vanilla = seconds["vanilla", "step"]
    rows = [{"method": "vanilla", "measure": "step", "seconds": vanilla, "vs_sum": None, "vs_vanilla": 1.0}]
    for name in ("automix", "adautomix"):
        passes = {
            label: v for (method, label), v in seconds.items() if method == name and label != "full step"
        }
        total, step = sum(passes.values()), seconds[name, "full step"]
        rows += [
            {"method": name, "measure": k, "seconds": v, "vs_sum": None, "vs_vanilla": v / vanilla}
            for k, v in passes.items()
        ]
        rows.append(
            {
                "method": name,
                "measure": "sum of passes",
                "seconds": total,
                "vs_sum": 1.0,
                "vs_vanilla": total / vanilla,
            }
        )
        rows.append(
            {
                "method": name,
                "measure": "full step",
                "seconds": step,
                "vs_sum": step / total,
                "vs_vanilla": step / vanilla,
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| method | measure | seconds | / sum of passes | / vanilla step |", "|---|---|---|---|---|"]
    for r in rows:
        ratio = lambda v: "" if v is None else f"{v:.2f}"  # noqa: E731
        lines.append(
            f"| {r['method']} | {r['measure']} | {r['seconds']:.3f} | {ratio(r['vs_sum'])} | {ratio(r['vs_vanilla'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.perf.learned", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--clock",
        choices=("wall", "process"),
        default="wall",
        help="elapsed time, or this process's CPU time (with --threads 1 on a busy machine)",
    )
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = measure(args.batch_size, args.repeats, args.device, clock=args.clock)
    print(markdown(rows))
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    hardware = torch.cuda.get_device_name() if args.device.startswith("cuda") else runtime.cpu_name()
    print(
        f"\nResNet-18 (CIFAR stem), {IMAGE_SIZE} px, {NUM_CLASSES} classes, batch {args.batch_size}, fp32; "
        f"{hardware}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
        f"{args.clock} clock, median of {args.repeats} interleaved rounds after a warm-up; "
        f"load average {' '.join(load)}"
    )


if __name__ == "__main__":
    main()
