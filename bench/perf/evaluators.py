"""How fast the robustness evaluators run, against their performance targets:

1. corruption evaluation of a CIFAR-C-shaped memory-mapped set (19 files, 5 severities) runs at
   >= 90% of the plain inference throughput of the same model and batch size (reading the files
   must not be the bottleneck);
2. an FGSM attack costs <= 1.2x a forward+backward pass per batch.

Usage: python -m bench.perf.evaluators [--model resnet18] [--per-severity N] [--batch-size 256]

The set is random uint8 images written to a temporary folder first (no download), so it sits in
the page cache as it would on a second evaluation. Timings exclude warm-up and are medians over
repeats; the hardware and the load average are printed with them. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench import runtime
from bench.data.cifar import CIFAR_MEAN, CIFAR_STD
from bench.data.corruptions import ALL, SEVERITIES, NpyCorruptions
from bench.evaluate import attacks, corruption
from bench.models.backbones import build_backbone
from bench.perf import timing
from bench.settings import RunSettings


def _median_seconds(fn, device: torch.device, warmup: int, repeats: int) -> float:
    return timing.repeated(fn, device, warmup, repeats).median


def write_set(folder: Path, per_severity: int, num_classes: int) -> NpyCorruptions:
    """19 `<corruption>.npy` files of random uint8 (5·n, 32, 32, 3) and labels.npy, like CIFAR-C."""
    rng = np.random.default_rng(0)
    rows = len(SEVERITIES) * per_severity
    for name in ALL:
        array = np.lib.format.open_memmap(
            folder / f"{name}.npy", mode="w+", dtype=np.uint8, shape=(rows, 32, 32, 3)
        )
        for start in range(0, rows, 50_000):
            stop = min(rows, start + 50_000)
            array[start:stop] = rng.integers(0, 256, (stop - start, 32, 32, 3), dtype=np.uint8)
        array.flush()
        del array
    np.save(
        folder / "labels.npy",
        np.tile(rng.integers(0, num_classes, per_severity).astype(np.uint8), len(SEVERITIES)),
    )
    return NpyCorruptions(folder, source="benchmark set (random images)")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.perf.evaluators", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="resnet18", help="registered backbone (CIFAR stem at 32 px)")
    p.add_argument("--classes", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument(
        "--per-severity",
        type=int,
        help="images per severity block (CIFAR-C: 10000); default 10000 on CUDA, 200 on CPU",
    )
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto")
    p.add_argument("--repeats", type=int, default=10, help="timed repeats of each per-batch measurement")
    p.add_argument("--dir", help="folder for the generated set (default: a temporary folder, removed after)")
    p.add_argument("--json", help="also write the figures to this file")
    return p.parse_args(argv)


def _fgsm_figures(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, device, repeats: int
) -> dict[str, float]:
    """FGSM against forward+backward, per batch (seconds)."""
    for p_ in model.parameters():
        p_.requires_grad_(True)

    def forward_backward() -> None:
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()

    fb = _median_seconds(forward_backward, device, 3, repeats)
    model.zero_grad(set_to_none=True)
    for p_ in model.parameters():
        p_.requires_grad_(False)  # as in evaluation: only the input gradient is computed
    eps = 8 / 255
    attack = _median_seconds(lambda: attacks.fgsm(model, x, y, eps), device, 3, repeats)

    def fgsm_and_score() -> None:
        adv = attacks.fgsm(model, x, y, eps)
        with torch.no_grad():
            (model(adv).argmax(1) == y).sum().item()

    return {"fb": fb, "attack": attack, "attack_eval": _median_seconds(fgsm_and_score, device, 3, repeats)}


def _corruption_figures(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, device, per_severity: int, classes: int, folder
) -> dict[str, float]:
    """The corruption evaluation from memory-mapped files, against plain inference over as many
    images on a resident batch, timed right before and right after it (so a drift in load or clock
    speed shows up in both)."""
    bs = len(x)

    def plain(batches: int) -> float:
        def run() -> None:
            with torch.no_grad():
                for _ in range(batches):
                    (model(x).argmax(1) == y).sum()

        return timing.seconds(run, device)

    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        cset = write_set(Path(tmp), per_severity, classes)
        total = len(cset.corruptions) * len(SEVERITIES) * cset.cell_size
        batches = -(-total // bs)
        warm = NpyCorruptions(Path(tmp), source="warm-up", indices=np.arange(min(bs * 2, per_severity)))
        corruption.evaluate({"net": model}, warm, bs, device)
        plain(3)
        before = plain(batches)
        seconds = timing.seconds(lambda: corruption.evaluate({"net": model}, cset, bs, device), device)
        after = plain(batches)
    return {
        "total": total,
        "seconds": seconds,
        "plain_images": batches * bs,
        "before": before,
        "after": after,
    }


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    rt = runtime.resolve(RunSettings(device=args.device, precision=args.precision))
    device = rt.device
    per_severity = args.per_severity or (10_000 if device.type == "cuda" else 200)
    torch.manual_seed(0)
    net = build_backbone(args.model, num_classes=args.classes, image_size=32)
    model = attacks.PixelSpace(
        net, CIFAR_MEAN, CIFAR_STD, autocast=rt.autocast, channels_last=rt.channels_last
    )
    model = model.to(device).eval()
    if rt.channels_last:
        net.to(memory_format=torch.channels_last)
    bs = args.batch_size
    # the layout the corruption pipeline produces (uint8 NHWC converted on the device), so the two
    # throughputs differ only by the reading
    x = corruption.to_device(
        np.random.default_rng(1).integers(0, 256, (bs, 32, 32, 3), dtype=np.uint8), device
    )
    y = torch.randint(args.classes, (bs,), device=device)
    load_before = timing.loadavg()
    hardware = {
        "device": rt.describe(),
        "cpu": runtime.cpu_name(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "model": f"{args.model} ({args.classes} classes, CIFAR stem, 32 px)",
        "batch_size": bs,
        "loadavg_before": load_before,
    }
    fgsm = _fgsm_figures(model, x, y, device, args.repeats)
    corrupt = _corruption_figures(model, x, y, device, per_severity, args.classes, args.dir)
    fb, attack, attack_eval = fgsm["fb"], fgsm["attack"], fgsm["attack_eval"]
    total, seconds, before, after = corrupt["total"], corrupt["seconds"], corrupt["before"], corrupt["after"]
    plain_throughput = corrupt["plain_images"] / ((before + after) / 2)
    corrupt_throughput = total / seconds

    figures = {
        **hardware,
        "forward_backward_ms": 1000 * fb,
        "fgsm_attack_ms": 1000 * attack,
        "fgsm_attack_over_forward_backward": attack / fb,
        "fgsm_attack_and_scoring_ms": 1000 * attack_eval,
        "fgsm_attack_and_scoring_over_forward_backward": attack_eval / fb,
        "plain_inference_images_per_s": plain_throughput,
        "corruption_images": total,
        "corruption_seconds": seconds,
        "corruption_images_per_s": corrupt_throughput,
        "corruption_over_plain": corrupt_throughput / plain_throughput,
        "loadavg_after": timing.loadavg(),
    }
    print("hardware:", ", ".join(f"{k} {v}" for k, v in hardware.items()))
    print(f"forward+backward per batch:       {1000 * fb:9.2f} ms (median of {args.repeats})")
    print(
        f"FGSM attack per batch:            {1000 * attack:9.2f} ms = {attack / fb:.2f}x forward+backward (target <= 1.2x)"
    )
    print(
        f"FGSM attack + scoring per batch:  {1000 * attack_eval:9.2f} ms = {attack_eval / fb:.2f}x forward+backward"
    )
    print(
        f"plain inference:                  {plain_throughput:9.0f} images/s (resident batch; "
        f"{corrupt['plain_images'] / before:.0f} before, {corrupt['plain_images'] / after:.0f} after)"
    )
    print(
        f"corruption evaluation:            {corrupt_throughput:9.0f} images/s over {total} images in {seconds:.1f} s "
        f"= {corrupt_throughput / plain_throughput:.1%} of plain (target >= 90%)"
    )
    print(f"load average before/after: {load_before} / {figures['loadavg_after']}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
