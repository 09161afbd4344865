"""`bench evaluate --checkpoint FILE --backbone B --dataset D`: clean top-1 of a released checkpoint.

Loads an OpenMixup / AdAutoMix checkpoint (see `bench/models/checkpoint.py`), evaluates each asked
network on the dataset's test split, and puts the result beside the published number for that
cell when `--method` (and the budget, from `--epochs` or the file's meta) say which cell it is.
A checkpoint is one epoch, while a published number is a reducer over the last epochs (median of
the last 10, say), so the two agree within the epoch-to-epoch spread, not exactly; the output says
so. `--tolerance T` turns the comparison into a check: exit 1 when the checkpoint falls more than
T points below the published value.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from bench.commands.common import add_device_arguments, load_settings, out
from bench.errors import BenchError

if TYPE_CHECKING:  # torch and timm load only when the command runs
    from bench.models.checkpoint import Checkpoint


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "evaluate",
        help="evaluate an OpenMixup/AdAutoMix checkpoint on a test split and compare it with the published value",
    )
    cmd.add_argument(
        "--checkpoint", required=True, help="mmcv checkpoint (.pth) saved by OpenMixup or the release"
    )
    cmd.add_argument("--backbone", required=True, help="registered backbone, e.g. resnet18")
    cmd.add_argument("--dataset", required=True, help="registered dataset, e.g. cifar100")
    cmd.add_argument(
        "--network",
        default="auto",
        help="online | online_mix | ema | ema_mix, or 'a|b' for the larger; auto: the EMA teacher's two "
        "heads when the file has a teacher (as published), else its one network",
    )
    cmd.add_argument(
        "--method", help="method that trained it (e.g. adautomix, SAMix), to find the published value"
    )
    cmd.add_argument("--epochs", type=int, help="its training budget (default: the epoch in the file's meta)")
    cmd.add_argument("--stem", choices=["auto", "cifar", "imagenet"], default="auto", help="ResNet stem")
    cmd.add_argument("--image-size", type=int, help="test resolution (default: the dataset's)")
    cmd.add_argument(
        "--batch-size", type=int, default=200, help="evaluation batch size (default: %(default)s)"
    )
    cmd.add_argument(
        "--tolerance", type=float, help="exit 1 if more than this many points below the published value"
    )
    cmd.add_argument("--data-root", help="folder with the dataset releases (overrides bench.toml)")
    add_device_arguments(cmd)
    cmd.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench import registry, runtime
    from bench.data.pipeline import eval_loader
    from bench.evaluate.clean import top1
    from bench.models import checkpoint
    from bench.models.backbones import build_backbone

    if args.batch_size < 1:
        raise BenchError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.image_size is not None and args.image_size < 8:
        raise BenchError(f"--image-size must be >= 8, got {args.image_size}")
    if args.tolerance is not None and args.tolerance < 0:
        raise BenchError(f"--tolerance must be >= 0, got {args.tolerance}")
    registry.get("backbones", args.backbone)
    dataset = registry.get("datasets", args.dataset).load()
    settings = load_settings(args)
    ckpt = checkpoint.read(args.checkpoint)
    network = ckpt.default_network() if args.network == "auto" else args.network
    options = [n for n in network.split("|") if n]

    image_size = args.image_size or dataset.image_size
    rt = runtime.resolve(settings.run)
    batches, test_images = eval_loader(dataset, image_size, args.batch_size, settings, rt)
    layout = "online network + EMA teacher" if ckpt.two_networks else "one network"
    epoch = ckpt.meta.get("epoch")
    out.print(
        escape(
            f"{ckpt.path}: OpenMixup layout, {layout}"
            + (f", saved after epoch {epoch}" if epoch is not None else "")
            + f"; {args.backbone} on {args.dataset} test split ({test_images} images, {image_size} px), "
            f"{rt.describe()}"
        )
    )
    scores: dict[str, float] = {}
    unused: set[str] | None = None  # key prefixes no evaluated network reads
    for name in options:
        model = build_backbone(
            args.backbone, num_classes=dataset.num_classes, image_size=image_size, stem=args.stem
        )
        weights, skipped = checkpoint.extract(ckpt, name)
        unused = set(skipped) if unused is None else unused & set(skipped)
        checkpoint.load_into(model, weights, f"{ckpt.path} ({name} network into {args.backbone})")
        model = model.to(rt.device, memory_format=rt.memory_format)
        scores[name] = top1(model, batches, rt)
    if unused:
        out.print(escape(f"not used from the file: {', '.join(sorted(unused))}"))
    table = Table("network", "weights", "top-1 (%)")
    for name, value in scores.items():
        backbone, head = checkpoint.NETWORKS[name] if ckpt.two_networks else checkpoint.SINGLE
        table.add_row(name, f"{backbone}* + {head}fc.*", f"{value:.2f}")
    out.print(table)
    ours_network = max(scores, key=lambda n: scores[n])
    ours = scores[ours_network]
    if len(scores) > 1:
        out.print(escape(f"reported ({network}: the larger): {ours:.2f} ({ours_network})"))
    return _compare(args, ckpt, network, ours, settings.published_dir)


def _compare(
    args: argparse.Namespace, ckpt: Checkpoint, network: str, ours: float, published_dir: Path
) -> int:
    """Print the published values of the checkpoint's cell and the difference; 1 on a regression."""
    from bench.report.published import load, method_key

    if not args.method:
        out.print("pass --method (and --epochs if the file has no epoch) to compare with the published value")
        return 0
    epochs = args.epochs or ckpt.meta.get("epoch")
    if not epochs:
        raise BenchError("the checkpoint's meta has no epoch: pass --epochs, the training budget of the run")
    key = (args.dataset, args.backbone, method_key(args.method), int(epochs))
    rows = load(published_dir).get(key, [])
    cell = f"{args.method} / {args.dataset} / {args.backbone} / {epochs} ep"
    if not rows:
        out.print(escape(f"no published value for {cell} in {published_dir}"))
        return 0
    primary = next((p for p in rows if p.network == network), rows[0])
    for p in rows:
        chosen = " (compared)" if p is primary else ""
        out.print(
            escape(
                f"published {cell}: {p.value:.2f}{chosen} from {p.source} "
                f"[{p.file}; reducer {p.reducer}, network {p.network}]"
            )
        )
    delta = ours - primary.value
    out.print(
        escape(
            f"Δ = ours − published = {delta:+.2f} points. The checkpoint is one epoch; the published "
            f"value is `{primary.reducer}` over the last epochs, so expect agreement within the "
            "epoch-to-epoch spread (a few tenths), not equality."
            + (
                ""
                if primary.network == network
                else f" Networks differ: ours {network}, published {primary.network}."
            )
        )
    )
    if args.tolerance is not None and delta < -args.tolerance:
        out.print(f"[red]REGRESSION[/]: more than {args.tolerance:g} points below the published value")
        return 1
    return 0
