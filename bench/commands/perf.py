"""`bench perf`: the cost of every method's training step, the data path and evaluation, here.

Writes `reports/perf-<device>-<torch version>.md` and `.csv`, with suffixes naming the network,
data, image size and batch when they are not the defaults, and a set precision, compilation or
the process clock, so that such runs never overwrite the reference report. How each figure is
taken: `bench/perf/timing.py`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from bench.commands.common import add_device_arguments, err, load_settings, out
from bench.errors import BenchError
from bench.text import plural

DEFAULTS = {"backbone": "resnet18", "dataset": "synthetic", "image_size": 32, "batch_size": 16}
DATA_BLOCKS = (5, 4096, 5)  # data path: warm-up batches, images per block (whole batches), blocks
EVAL_BATCHES, EVAL_WARMUP = 8, 1  # evaluation: batches per pass, untimed passes (then --steps timed)
BREAKDOWN_STEPS = (5, 30)  # the vanilla step's breakdown: warm-up steps, profiled steps


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "perf",
        help="time every method's training step (× vanilla), the data path and evaluation on this machine",
        description=__doc__.split("\n\n")[0],
    )
    cmd.add_argument(
        "--methods", help="comma-separated registered methods (default: all); vanilla is always timed"
    )
    cmd.add_argument(
        "--backbone", default=DEFAULTS["backbone"], help="registered backbone (default: %(default)s)"
    )
    cmd.add_argument(
        "--dataset", default=DEFAULTS["dataset"], help="registered dataset (default: %(default)s)"
    )
    cmd.add_argument(
        "--image-size",
        type=int,
        help="image side in px (default: 32 on the synthetic data, CIFAR's size; else the dataset's own)",
    )
    cmd.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"], help="(default: %(default)s)")
    add_device_arguments(cmd)
    cmd.add_argument(
        "--compile",
        action="store_true",
        default=None,
        help="torch.compile the networks (compiled in the warm-up)",
    )
    cmd.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads (default on a CPU: what each job of the local executor gets here, "
        "threads_per_job or the cores over cpu_workers; on a GPU: torch's default)",
    )
    cmd.add_argument(
        "--clock",
        choices=["wall", "process"],
        default="wall",
        help="wall time (default), or on a CPU shared with other work this process's CPU time",
    )
    cmd.add_argument(
        "--steps",
        type=int,
        default=6,
        help="timed rounds of every method first (default: %(default)s, the fewest that give a 95%% interval)",
    )
    cmd.add_argument(
        "--max-steps",
        type=int,
        default=30,
        help="at most this many timed rounds for a method whose target is not yet decided (default: %(default)s)",
    )
    cmd.add_argument(
        "--warmup", type=int, default=1, help="untimed steps per method first (default: %(default)s)"
    )
    cmd.add_argument("--out", help="folder for the report (default: bench.toml's reports folder)")
    cmd.add_argument("--data-root", help="folder with the dataset releases (overrides bench.toml)")
    cmd.set_defaults(func=run)


def _check(args: argparse.Namespace, compile_on: bool) -> None:
    if args.steps < 1:
        raise BenchError(f"--steps must be >= 1, got {args.steps}")
    if args.max_steps < args.steps:
        raise BenchError(f"--max-steps must be >= --steps ({args.steps}), got {args.max_steps}")
    if args.warmup < 0:
        raise BenchError(f"--warmup must be >= 0, got {args.warmup}")
    if compile_on and args.warmup < 1:
        raise BenchError("with --compile, --warmup must be >= 1: compilation happens in the first step")
    if args.batch_size < 2:
        raise BenchError(f"--batch-size must be >= 2 (batch norm needs two samples), got {args.batch_size}")
    if args.threads is not None and args.threads < 1:
        raise BenchError(f"--threads must be >= 1, got {args.threads}")
    if args.image_size is not None and args.image_size < 8:
        raise BenchError(f"--image-size must be >= 8, got {args.image_size}")


def run(args: argparse.Namespace) -> int:
    import torch

    from bench import registry, runtime
    from bench.perf import timing

    settings = load_settings(args)
    _check(args, settings.run.compile)
    methods = (
        list(registry.METHODS)
        if not args.methods
        else [m.strip() for m in args.methods.split(",") if m.strip()]
    )
    for name in methods:
        registry.get("methods", name)  # unknown names: a message with close matches, before any work
    registry.get("backbones", args.backbone)
    spec = registry.get("datasets", args.dataset).load()
    image_size = args.image_size or (
        DEFAULTS["image_size"] if spec.name == DEFAULTS["dataset"] else spec.image_size
    )
    rt = runtime.resolve(settings.run)
    if args.clock == "process" and rt.device.type != "cpu":
        raise BenchError("--clock process counts this process's CPU time: use it with --device cpu")
    if args.threads or rt.device.type == "cpu":
        torch.set_num_threads(args.threads or runtime.cpu_job_threads(settings.run))

    from bench.data.pipeline import build_loaders
    from bench.perf import breakdown, report, steps, throughput
    from bench.recipe import Recipe

    recipe = Recipe(batch_size=args.batch_size, image_size=image_size, augmentation=spec.augmentation)
    train, test, _ = build_loaders(spec, recipe, settings, rt, torch.Generator().manual_seed(0))
    images, labels = next(iter(train))
    setup = steps.Setup(
        args.backbone,
        spec,
        images,
        labels,
        recipe,
        rt,
        steps_per_epoch=len(train),
        warn=lambda message: err.print(f"[yellow]warning[/] {escape(message)}"),
        clock=args.clock,
    )
    load_before = timing.loadavg()
    out.print(
        f"bench perf: {plural(len(methods), 'method')}, {escape(args.backbone)} on {escape(spec.name)} at {image_size} px, "
        f"batch {args.batch_size}, {escape(rt.describe())}; {args.warmup} warm-up + {args.steps} timed steps each (up to {args.max_steps} until each target is decided)"
    )
    rows = steps.measure(methods, setup, args.warmup, args.steps, max_steps=args.max_steps)
    warm, block_images, blocks = DATA_BLOCKS
    data_batches = (warm, max(1, -(-block_images // args.batch_size)), blocks)
    data = throughput.data_path(train, rt.device, *data_batches, clock=args.clock)
    model = _eval_model(setup)
    evaluation = throughput.evaluation(model, test, rt, EVAL_BATCHES, EVAL_WARMUP, args.steps, args.clock)
    split = breakdown.vanilla_step(settings, rt, *BREAKDOWN_STEPS) if rt.device.type == "cpu" else None
    perf = report.Perf(
        _conditions(args, rt, spec.name, image_size, load_before),
        timing.hardware(rt.device),
        rows,
        data,
        data_batches,
        evaluation,
        (EVAL_BATCHES, EVAL_WARMUP, args.steps),
        split,
    )
    stem = _stem(perf, args, settings, rt, spec.name, image_size)
    folder = Path(args.out) if args.out else settings.reports_dir
    md, csv_path = report.write(perf, folder, stem)
    _summary(perf)
    out.print(f"report: {escape(str(md))} and {escape(str(csv_path))}")
    return 0


def _conditions(args: argparse.Namespace, rt, dataset: str, image_size: int, load_before) -> dict:
    """What the figures were measured under, for the report's header and CSV."""
    import torch

    from bench.perf import timing

    return {
        "device": rt.device.type,
        "torch": torch.__version__,
        "backbone": args.backbone,
        "dataset": dataset,
        "image_size": image_size,
        "batch_size": args.batch_size,
        "precision": "bf16 autocast" if rt.bf16 else "fp32",
        "channels_last": rt.channels_last,
        "compile": rt.compile,
        "clock": args.clock,
        "warmup": args.warmup,
        "steps": args.steps,
        "max_steps": args.max_steps,
        "loadavg_before": load_before,
        "loadavg_after": timing.loadavg(),
    }


def _stem(perf, args: argparse.Namespace, settings, rt, dataset: str, image_size: int) -> str:
    """The report's file name: the machine's, plus every choice that differs from the defaults."""
    stem = perf.stem()
    chosen = (args.backbone, dataset, image_size, args.batch_size)
    if chosen != tuple(DEFAULTS.values()):
        stem += f"-{args.backbone}-{dataset}-{image_size}px-b{args.batch_size}"
    if settings.run.precision != "auto":
        stem += f"-{'bf16' if rt.bf16 else 'fp32'}"
    if rt.compile:
        stem += "-compile"
    if args.clock != "wall":
        stem += f"-{args.clock}-clock"
    return stem


def _eval_model(setup):
    """A freshly initialised network for the evaluation figure (compiled if the run compiles)."""
    from bench import build
    from bench.runtime import compile_model

    model = build.model(
        setup.job("vanilla"), setup.dataset, device=setup.rt.device, memory_format=setup.rt.memory_format
    )
    if setup.rt.compile:
        compile_model(model, warn=lambda message: setup.warn(f"evaluation: {message}"))
    return model


def _summary(perf) -> None:
    from rich.table import Table

    from bench.perf import report

    table = Table(show_edge=False)
    for column in ("method", "step (ms)", "× vanilla", "× passes", "target", "within", "peak MiB"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for r in perf.rows:
        if r.status != "ok":
            table.add_row(r.method, f"[yellow]{r.status}[/]: {escape(r.reason)}", "", "", "", "", "")
            continue
        table.add_row(
            r.method,
            report.ms(r.step.median if r.step else None),
            report.interval(r.over_vanilla),
            report.interval(r.over_passes),
            report.target_text(r),
            report.verdict(r).replace("*", ""),
            report.mib(r.peak_bytes),
        )
    out.print(table)
    out.print(
        f"data path {perf.data.median:,.0f} images/s, evaluation {perf.evaluation.median:,.0f} images/s"
    )
    if perf.breakdown is not None:
        out.print(
            f"forward+backward share of a vanilla step: {100 * perf.breakdown.share('forward', 'backward'):.1f}%"
        )
