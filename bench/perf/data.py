"""How fast augmented CIFAR batches reach the model: `python -m bench.perf.data`.

Three producers deliver the same kind of batch (100 CIFAR images, random 4-px reflect-padded
crop + flip, normalised float) from the same uint8 data held in memory:

- `in-memory`: bench's InMemoryLoader (the path CIFAR jobs use), batched on the data's device;
- `torchvision DataLoader, 2 workers`: the usual recipe, a map-style dataset returning PIL images
  through RandomCrop(32, 4, reflect), RandomHorizontalFlip, ToTensor, Normalize;
- `bench DataLoader, 2 workers`: bench's own DataLoader path (StreamLoader) on the same split,
  for reference (it yields exactly the in-memory path's batches).

and one consumer: `tiny_resnet training`, a forward, backward and SGD step of the tiny backbone
on such batches. The targets: in-memory at least 5x the torchvision DataLoader, and at
least 3x what tiny_resnet consumes.

Method: each producer runs `warmup` batches untimed (worker start-up, allocator warm-up), then
`rounds` timed blocks of `batches` batches; the figure is the median block's images per second
(and the interquartile range of the blocks). Producers run one after another, on this process's
torch threads; DataLoader workers are separate processes. Without a CIFAR release under
`--data-root`, random uint8 images of CIFAR's shape stand in (the work does not depend on pixel
values). Other processes on the machine slow every figure and blur the ratios: take the numbers
on a quiet machine, and read the load averages printed before and after.
"""

from __future__ import annotations

import argparse
import itertools
import platform
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.perf import timing

BATCH = 100
TARGET_VS_DATALOADER = 5.0
TARGET_VS_TINY_RESNET = 3.0


@dataclass(frozen=True)
class LoaderRate:
    """One producer's (or consumer's) images per second."""

    name: str
    images_per_s: float  # median over the timed blocks
    iqr: float  # interquartile range of the blocks' images per second
    blocks: int


def cifar_like(data_root: Path | None, n: int = 50_000):
    """The CIFAR-100 training split if it is under data_root, else random images of its shape."""
    from bench.data.base import ImageSet
    from bench.data.cifar import CIFAR100

    if data_root is not None and (data_root / CIFAR100.folder).is_dir():
        return CIFAR100.load(data_root, "train"), "CIFAR-100 train split"
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    return ImageSet(images, torch.randint(0, 100, (n,), generator=g)), f"{n:,} random 32x32 images"


CPU = torch.device("cpu")


def _time(batches, warmup: int, count: int, rounds: int, step=None) -> list[float]:
    """Images per second of each of `rounds` blocks of `count` batches, after `warmup` batches."""
    return timing.block_rates(batches, CPU, warmup, count, rounds, step)


def _row(name: str, rates: list[float]) -> LoaderRate:
    s = timing.Summary.of(rates)
    return LoaderRate(name, s.median, s.iqr, s.n)


class _TorchvisionCifar(torch.utils.data.Dataset):
    """What torchvision.datasets.CIFAR100 does per item: a PIL image through the transforms."""

    def __init__(self, data) -> None:
        from torchvision import transforms as tv

        from bench.data.cifar import CIFAR_MEAN, CIFAR_STD

        self.images = data.images.permute(0, 2, 3, 1).contiguous().numpy()  # HWC, as the release's arrays
        self.labels = data.labels
        self.transform = tv.Compose(
            [
                tv.RandomCrop(32, padding=4, padding_mode="reflect"),
                tv.RandomHorizontalFlip(),
                tv.ToTensor(),
                tv.Normalize(CIFAR_MEAN, CIFAR_STD),
            ]
        )

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def measure(
    data_root: Path | None = None, *, warmup: int = 10, batches: int = 50, rounds: int = 5
) -> tuple[list[LoaderRate], str]:
    from bench.data.cifar import CIFAR_MEAN, CIFAR_STD
    from bench.data.loader import InMemoryLoader
    from bench.data.stream import StreamLoader
    from bench.data.transforms import build
    from bench.models.backbones import build_backbone

    data, source = cifar_like(data_root)
    common = dict(batch_size=BATCH, mean=CIFAR_MEAN, std=CIFAR_STD, device=CPU, train=True)
    crop_flip = build("crop_flip", 32, interpolation="bicubic", eval_crop=None)
    rows = []

    memory = InMemoryLoader(data, transform=crop_flip, generator=torch.Generator().manual_seed(0), **common)
    rows.append(
        _row("in-memory (bench, batched crop+flip)", _time(timing.epochs(memory), warmup, batches, rounds))
    )

    torchvision_loader = torch.utils.data.DataLoader(
        _TorchvisionCifar(data),
        batch_size=BATCH,
        shuffle=True,
        drop_last=True,
        num_workers=2,
        persistent_workers=True,
        generator=torch.Generator().manual_seed(0),
    )
    rows.append(
        _row(
            "torchvision DataLoader, 2 workers (PIL)",
            _time(timing.epochs(torchvision_loader), warmup, batches, rounds),
        )
    )
    del torchvision_loader

    stream = StreamLoader(
        data, transform=crop_flip, generator=torch.Generator().manual_seed(0), workers=2, **common
    )
    rows.append(
        _row("bench DataLoader path, 2 workers", _time(timing.epochs(stream), warmup, batches, rounds))
    )
    del stream

    torch.manual_seed(0)
    model = build_backbone("tiny_resnet", num_classes=100, image_size=32)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.train()

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    ready = itertools.cycle(list(itertools.islice(timing.epochs(memory), 8)))  # time the steps alone
    rows.append(_row("tiny_resnet training (consumer)", _time(ready, warmup, batches // 5, rounds, step)))
    return rows, source


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console
    from rich.table import Table

    from bench.runtime import cpu_name, usable_cores

    p = argparse.ArgumentParser(prog="python -m bench.perf.data", description=__doc__.splitlines()[0])
    p.add_argument("--data-root", type=Path, help="use the CIFAR-100 release here instead of random images")
    p.add_argument("--warmup", type=int, default=10, help="untimed batches per producer")
    p.add_argument("--batches", type=int, default=50, help="batches per timed block")
    p.add_argument("--rounds", type=int, default=5, help="timed blocks per producer")
    p.add_argument("--threads", type=int, help="torch threads of this process (default: torch's choice)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    before = timing.loadavg()
    rows, source = measure(args.data_root, warmup=args.warmup, batches=args.batches, rounds=args.rounds)
    after = timing.loadavg()
    memory, torchvision_rate, _, consumer = (r.images_per_s for r in rows)

    console = Console(highlight=False)
    console.print(
        f"hardware: {cpu_name()}, {usable_cores()} usable cores; torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}\n"
        f"data: {source}; batches of {BATCH}; median of {args.rounds} blocks of {args.batches} batches "
        f"(consumer: {args.batches // 5}) after {args.warmup} untimed; load average before {before}, after {after}"
    )
    table = Table()
    for column in ("producer / consumer", "images/s (median)", "IQR", "ms per batch"):
        table.add_column(column, justify="left" if column.startswith("producer") else "right")
    for r in rows:
        table.add_row(
            r.name, f"{r.images_per_s:,.0f}", f"{r.iqr:,.0f}", f"{1000 * BATCH / r.images_per_s:.2f}"
        )
    console.print(table)
    for label, ratio, target in (
        ("in-memory vs torchvision DataLoader", memory / torchvision_rate, TARGET_VS_DATALOADER),
        ("in-memory vs tiny_resnet training", memory / consumer, TARGET_VS_TINY_RESNET),
    ):
        verdict = "[green]meets[/]" if ratio >= target else "[red]misses[/]"
        console.print(f"{label}: {ratio:.1f}x ({verdict} the target of {target:g}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
