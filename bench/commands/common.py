"""What several commands share: consoles, and loading settings and suites from parsed flags."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from rich.console import Console

# Wide enough for tables when output goes to a file or a CI log (no terminal width to read).
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)


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


def load_settings(args: argparse.Namespace):
    """bench.toml (or --config), then the environment, then the flags this command has."""
    from bench import settings as settings_mod

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


def load_suite(args: argparse.Namespace):
    from bench import suite as suite_mod

    s = suite_mod.load(args.suite)
    scale = getattr(args, "scale", None)
    s = s.with_scale(scale) if scale is not None else s
    only = getattr(args, "only", None)
    return s.with_only(only) if only else s
