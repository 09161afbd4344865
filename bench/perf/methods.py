"""How much each method costs per training step, relative to vanilla: `python -m bench.perf.methods`.

One training step (the method's loss, backward, SGD step) of a CIFAR ResNet-18 (CIFAR stem, 32 px,
100 classes) at batch 100, on this machine's CPU by default. Every round times one step of every
method, in an order rotated from round to round so that slow drift (thermal, other processes)
spreads over all methods; warm-up rounds are not timed; the figure is the median step time of each
method divided by vanilla's. All methods train the same network, so they see the same weights.

`measure()` returns the rows, for reuse by other commands; the module prints them as a table with
the hardware, the thread count and the load average before and after. Other processes on the
machine inflate and blur wall-clock ratios: measure on a quiet machine, or, on a shared one, count
this process's CPU time instead (`--clock process`, best with `--threads 1`), which contention
disturbs much less (it still counts work, not waiting, so it hides nothing a method computes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch

# The per-step overhead each method should stay under (ratio to vanilla), from the methods issue.
TARGETS = {
    "vanilla": 1.0,
    "mixup": 1.03,
    "cutmix": 1.03,
    "resizemix": 1.03,
    "fmix": 1.03,
    "gridmix": 1.03,
    "smoothmix": 1.03,
    "saliencymix": 1.10,
    "manifoldmix": 1.05,
    "puzzlemix": 2.3,
}


@dataclass(frozen=True)
class Row:
    method: str
    median_s: float  # median seconds per training step
    spread_s: float  # interquartile range of the step times
    ratio: float  # median over vanilla's median
    target: float | None  # the ratio the method should stay under, if one is set
    steps: int  # timed steps

    @property
    def ok(self) -> bool | None:
        return None if self.target is None else self.ratio <= self.target


def _setup(name: str, model: torch.nn.Module, num_classes: int, image_size: int, mean, std, seed: int):
    from bench import registry
    from bench.methods.base import MethodContext

    cls = registry.get("methods", name).load()
    ctx = MethodContext(
        num_classes=num_classes,
        image_size=image_size,
        label_smoothing=0.0,
        generator=torch.Generator().manual_seed(seed),
        device=next(model.parameters()).device,
        steps_per_epoch=1,
        total_steps=1,
        backbone="resnet18",
        mean=mean,
        std=std,
    )
    method = cls(cls.Params(), ctx)
    method.setup(model)
    return method


def measure(
    methods: list[str] | None = None,
    *,
    backbone: str = "resnet18",
    image_size: int = 32,
    num_classes: int = 100,
    batch_size: int = 100,
    rounds: int = 7,
    warmup: int = 2,
    device: str = "cpu",
    seed: int = 0,
    clock: str = "wall",
) -> list[Row]:
    """Median step time of each method (vanilla always included) and its ratio to vanilla's;
    `clock` is "wall" (elapsed time) or "process" (this process's CPU time, CPU devices only)."""
    if clock not in ("wall", "process") or (clock == "process" and device != "cpu"):
        raise ValueError(f"clock must be 'wall', or 'process' on the CPU; got {clock!r} on {device}")
    now = time.perf_counter if clock == "wall" else time.process_time
    from bench.data.synthetic import SYNTHETIC, generate
    from bench.models.backbones import build_backbone

    names = ["vanilla", *[m for m in (methods or list(TARGETS)) if m != "vanilla"]]
    torch.manual_seed(seed)
    dev = torch.device(device)
    model = build_backbone(backbone, num_classes=num_classes, image_size=image_size).to(dev).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    data = generate("train", image_size)
    mean = torch.tensor(SYNTHETIC.mean).view(1, 3, 1, 1)
    std = torch.tensor(SYNTHETIC.std).view(1, 3, 1, 1)
    images = ((data.images[:batch_size].float() / 255 - mean) / std).to(dev)
    labels = torch.randint(num_classes, (batch_size,), generator=torch.Generator().manual_seed(seed)).to(dev)
    runners = {
        n: _setup(n, model, num_classes, image_size, SYNTHETIC.mean, SYNTHETIC.std, seed) for n in names
    }

    def step(name: str) -> float:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        tic = now()
        loss, _ = runners[name].loss(model, images, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        return now() - tic

    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(warmup + rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            elapsed = step(name)
            if r >= warmup:
                times[name].append(elapsed)

    base = statistics.median(times["vanilla"])
    rows = []
    for name in names:
        q = statistics.quantiles(times[name], n=4) if len(times[name]) > 1 else [times[name][0]] * 3
        median = statistics.median(times[name])
        rows.append(Row(name, median, q[2] - q[0], median / base, TARGETS.get(name), len(times[name])))
    return rows


def environment(device: str = "cpu") -> dict[str, Any]:
    """What the figures depend on: hardware, threads, versions, load."""
    from bench.runtime import cpu_name

    info = {
        "cpu": cpu_name(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "loadavg": os.getloadavg(),
    }
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def format_table(rows: list[Row]) -> str:
    lines = [
        "| method | median step (s) | IQR (s) | × vanilla | target | within |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        within = "—" if r.ok is None else ("yes" if r.ok else "NO")
        target = "—" if r.target is None else f"≤ {r.target:.2f}"
        lines.append(
            f"| {r.method} | {r.median_s:.3f} | {r.spread_s:.3f} | {r.ratio:.3f} | {target} | {within} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.perf.methods", description=__doc__.splitlines()[0])
    p.add_argument("--methods", help="comma-separated (default: every method with a target)")
    p.add_argument("--rounds", type=int, default=7, help="timed rounds (one step of each method per round)")
    p.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--backbone", default="resnet18")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument(
        "--clock",
        choices=["wall", "process"],
        default="wall",
        help="elapsed time, or this process's CPU time",
    )
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    before = environment(args.device)
    rows = measure(
        args.methods.split(",") if args.methods else None,
        backbone=args.backbone,
        batch_size=args.batch_size,
        rounds=args.rounds,
        warmup=args.warmup,
        device=args.device,
        clock=args.clock,
    )
    after = environment(args.device)
    print(
        f"{args.backbone} (CIFAR stem, 32 px, 100 classes), batch {args.batch_size}, {args.device}: "
        f"{before['cpu']}, {before['threads']} threads, torch {before['torch']}; "
        f"{args.warmup} warm-up + {args.rounds} timed rounds, {args.clock} clock"
    )
    print(f"load average before {before['loadavg']}, after {after['loadavg']}\n")
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
