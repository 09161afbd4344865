"""`bench plan SUITE`: the job matrix and its size, without running anything."""

from __future__ import annotations

import argparse

from rich.markup import escape
from rich.table import Table

from bench.commands.common import add_suite_arguments, load_settings, load_suite, out
from bench.text import assignments, number, plural


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("plan", help="print a suite's job matrix without running anything")
    add_suite_arguments(cmd)
    cmd.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.runner import split_finished
    from bench.suite import expand

    suite, settings = load_suite(args), load_settings(args)
    jobs = expand(suite)
    finished, _ = split_finished(jobs, settings)
    done = {j.id for j in finished}
    table = Table(
        title=f"{suite.name}: {plural(len(jobs), 'job')}"
        + (f" at scale {suite.scale:g}" if suite.scale < 1 else "")
        + (f", slice {suite.slice_text}" if suite.only else "")
    )
    for column in (
        "dataset",
        "backbone",
        "method",
        "seed",
        "epochs",
        "batch",
        "lr",
        "image",
        "params",
        "id",
        "state",
    ):
        table.add_column(column)
    for j in jobs:
        params = assignments(j.params)
        table.add_row(
            j.dataset,
            j.backbone,
            j.method,
            str(j.seed),
            str(j.recipe.epochs),
            str(j.recipe.batch_size),
            number(j.recipe.optimizer.lr),
            str(j.recipe.image_size),
            params,
            j.id[:8],
            "done" if j.id in done else "pending",
        )
    out.print(table)
    axes = suite.data.axes
    sliced = f" (the slice {suite.slice_text})" if suite.only else ""
    product = len(axes.methods) * len(axes.backbones) * len(axes.datasets) * len(axes.seeds)
    if product != len(jobs) and not suite.only:  # say why the matrix is smaller than the axes
        sliced = f" (include/exclude keep {len(jobs)} of the {product} combinations)"
    out.print(
        f"{plural(len(axes.methods), 'method')} × {plural(len(axes.backbones), 'backbone')} × "
        f"{plural(len(axes.datasets), 'dataset')} × {plural(len(axes.seeds), 'seed')} → "
        f"{plural(len(jobs), 'job')}{sliced}: {len(finished)} finished, "
        f"{len(jobs) - len(finished)} pending"
    )
    _pretrained_note(jobs, settings)
    return 0


def _pretrained_note(jobs: list, settings) -> None:
    """Which ImageNet weights files the pretrained jobs need, and whether they are there."""
    from bench.models.pretrained import weights_file

    backbones = dict.fromkeys(j.backbone for j in jobs if j.recipe.pretrained)
    for backbone in backbones:
        path = weights_file(backbone, settings.weights_dir)
        state = (
            "[green]found[/]" if path.is_file() else "[yellow]missing[/] (bench run names where to get it)"
        )
        out.print(f"pretrained {backbone}: {escape(str(path))} {state}")
