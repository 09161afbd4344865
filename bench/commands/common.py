"""What several commands share: consoles, the options they have in common, the checks made before
any heavy import, and loading settings and suites from parsed flags."""

from __future__ import annotations

import argparse
import difflib
import sys
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from bench.errors import BenchError

# Wide enough for tables when output goes to a file or a CI log (no terminal width to read).
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)

SUITE_SUFFIXES = (".yaml", ".yml")


def add_suite_arguments(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("suite", help="suite YAML file, e.g. suites/smoke.yaml")
    cmd.add_argument("--scale", type=float, help="run at this fraction of epochs and data, in (0, 1]")
    cmd.add_argument(
        "--data-root", help="folder with the dataset releases (overrides bench.toml and BENCH_DATA_ROOT)"
    )
    cmd.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="AXIS=V1,V2",
        help="only the cells with these values on an axis (method, backbone, dataset, seed); "
        "repeat for several axes, e.g. --only method=mixup,adautomix --only dataset=cifar100",
    )


def add_device_arguments(cmd: argparse.ArgumentParser) -> None:
    """`--device` and `--precision`, which override `[run]` in bench.toml."""
    cmd.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        help="where to compute: auto (default in bench.toml) is CUDA when a GPU is visible, else the CPU",
    )
    cmd.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16"],
        help="auto (default in bench.toml): bf16 autocast on CUDA, fp32 on the CPU",
    )


def add_format_argument(cmd: argparse.ArgumentParser, default: str = "png") -> None:
    cmd.add_argument(
        "--format",
        default=default,
        metavar="FMT[,FMT...]",
        help=f"figure formats, any of png, pdf, svg, comma-separated (default: {default}); "
        "PDF and SVG keep text and lines as vectors for a paper",
    )


def figure_formats(text: str) -> tuple[str, ...]:
    """`png,pdf` -> ("png", "pdf"); an unknown format is refused with the valid ones."""
    from bench.report.figures import parse_formats

    try:
        return parse_formats(text)
    except ValueError as exc:
        raise BenchError(f"--format: {exc}") from None


def suite_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*") if p.suffix in SUITE_SUFFIXES and p.is_file())


def missing_suite(path: str) -> BenchError:
    """The error for a suite file that is not there, with the suites that are."""
    given = Path(path)
    folder = given.parent if suite_files(given.parent) else Path("suites")
    found = suite_files(folder)
    if not found:
        return BenchError(
            f"{path}: no such suite file, and no suite (*.yaml) in {folder}/; "
            "run bench from a checkout of the repository (suites/ is at its root)"
        )
    close = difflib.get_close_matches(given.stem, [p.stem for p in found], n=3, cutoff=0.6)
    hint = f" (did you mean {' or '.join(str(folder / (c + given.suffix)) for c in close)}?)" if close else ""
    return BenchError(
        f"{path}: no such suite file{hint}; suites in {folder}/: {', '.join(p.name for p in found)}"
    )


def check_paths(args: argparse.Namespace) -> None:
    """Files named on the command line exist: checked before a command imports torch, so that a
    typo costs a fraction of a second."""
    suite = getattr(args, "suite", None)
    if suite is not None and not Path(suite).is_file():
        raise missing_suite(suite)
    for target in getattr(args, "targets", None) or []:  # bench robustness SUITE | RUN_DIR...
        if Path(target).exists():
            continue
        if Path(target).suffix in SUITE_SUFFIXES:
            raise missing_suite(target)
        raise BenchError(f"{target}: no such suite file or run folder")
    checkpoint = getattr(args, "checkpoint", None)
    if checkpoint is not None and not Path(checkpoint).is_file():
        raise BenchError(f"--checkpoint {checkpoint}: no such file")


def load_settings(args: argparse.Namespace):
    """bench.toml (or --config), then the environment, then the flags this command has. Without a
    bench.toml above the working directory, says which folder the defaults are relative to."""
    from bench import settings as settings_mod

    if args.config is None and settings_mod.find_config() is None:
        warn_no_config(Path.cwd())
    s = settings_mod.load(args.config)
    s = s.with_overrides(
        data_root=getattr(args, "data_root", None),
        device=getattr(args, "device", None),
        precision=getattr(args, "precision", None),
        cpu_workers=getattr(args, "workers", None),
        executor=getattr(args, "executor", None),
        compile=getattr(args, "compile", None),
    )
    if getattr(args, "wait", None):  # bench run --wait (the slurm executor)
        s = replace(s, slurm=replace(s.slurm, wait=True))
    return s


def warn_no_config(folder: Path) -> None:
    from rich.markup import escape

    from bench.settings import PathSettings

    paths = PathSettings()
    published = folder / paths.published
    missing = "" if published.is_dir() else f" ({published} does not exist: no published numbers)"
    err.print(
        f"[yellow]warning:[/] no bench.toml in {escape(str(folder))} or above: using the default settings "
        f"relative to {escape(str(folder))}: runs in {paths.runs}/, reports in {paths.reports}/, "
        f"published numbers from {paths.published}/{escape(missing)}. "
        "bench is meant to run from a checkout of its repository (docs/install.md); "
        "use --config FILE to name a bench.toml elsewhere.",
        soft_wrap=True,
    )


def load_suite(args: argparse.Namespace):
    from bench import suite as suite_mod

    s = suite_mod.load(args.suite)
    scale = getattr(args, "scale", None)
    s = s.with_scale(scale) if scale is not None else s
    only = getattr(args, "only", None)
    return s.with_only(only) if only else s
