"""The `bench` command. Each subcommand parses its flags and calls one function; heavy imports
(torch, timm) happen inside the commands that need them, so `--help` stays instant."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from bench.errors import BenchError

# Wide enough for the plan table when output goes to a file or a CI log (no terminal width to read).
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)


def _settings(args: argparse.Namespace):
    from bench import settings as settings_mod

    s = settings_mod.load(args.config)
    return s.with_overrides(
        data_root=getattr(args, "data_root", None),
        device=getattr(args, "device", None),
        precision=getattr(args, "precision", None),
        cpu_workers=getattr(args, "workers", None),
    )


def _suite(args: argparse.Namespace):
    from bench import suite as suite_mod

    s = suite_mod.load(args.suite)
    return s.with_scale(args.scale) if getattr(args, "scale", None) else s


# --- commands ---------------------------------------------------------------------------------


def cmd_plan(args: argparse.Namespace) -> int:
    from bench.runner import split_finished
    from bench.suite import expand

    suite, settings = _suite(args), _settings(args)
    jobs = expand(suite)
    finished, _ = split_finished(jobs, settings)
    done = {j.id for j in finished}
    table = Table(
        title=f"{suite.name}: {len(jobs)} jobs" + (f" at scale {suite.scale:g}" if suite.scale < 1 else "")
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
        params = ", ".join(f"{k}={v}" for k, v in j.params.items())
        table.add_row(
            j.dataset,
            j.backbone,
            j.method,
            str(j.seed),
            str(j.recipe.epochs),
            str(j.recipe.batch_size),
            f"{j.recipe.optimizer.lr:g}",
            str(j.recipe.image_size),
            params,
            j.id[:8],
            "done" if j.id in done else "pending",
        )
    out.print(table)
    axes = suite.data.axes
    out.print(
        f"{len(axes.methods)} methods × {len(axes.backbones)} backbones × {len(axes.datasets)} datasets × "
        f"{len(axes.seeds)} seeds → {len(jobs)} jobs ({len(finished)} finished, {len(jobs) - len(finished)} pending)"
    )
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    from bench import registry

    table = Table(title=f"registered {args.kind}")
    table.add_column("name")
    table.add_column("description")
    table.add_column("published as")
    for name, entry in registry.KINDS[args.kind].items():
        table.add_row(name, entry.summary, ", ".join(entry.published))
    out.print(table)
    return 0


class _Progress:
    """Progress for `bench run`: a live bar on a terminal, one line per finished job otherwise."""

    def __init__(self, jobs: list[Any], console: Console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console
        self.total = len(jobs)
        self.done = 0
        self.live = console.is_terminal
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not self.live,
        )
        self.task = self.progress.add_task("epochs", total=sum(j.recipe.epochs for j in jobs))
        self.running: dict[str, str] = {}

    def __enter__(self) -> _Progress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def started(self, job: Any) -> None:
        self.running[job.id] = f"{job.method}/{job.backbone}/{job.dataset}/s{job.seed}"
        self._describe()

    def epoch(self, job: Any, epoch: int) -> None:
        self.progress.advance(self.task)

    def finished(self, job: Any, record: dict[str, Any]) -> None:
        self.done += 1
        name = self.running.pop(job.id, job.method)
        if record.get("status") == "ok":
            network = record.get("primary_network", "online")
            value = record.get("metrics", {}).get(network, {}).get("final")
            status = (
                f"[green]ok[/] final top-1 ({network}) {value:.2f}" if value is not None else "[green]ok[/]"
            )
        else:
            status = f"[red]error[/] {escape(str(record.get('error', '')).splitlines()[0])}"
        self.console.print(
            f"\\[{self.done}/{self.total}] {escape(name)}: {status} ({record.get('wall_seconds', 0):.1f} s)"
        )
        self._describe()

    def _describe(self) -> None:
        self.progress.update(self.task, description=f"{len(self.running)} running")


def cmd_run(args: argparse.Namespace) -> int:
    from bench.runner import run_suite, write_leaderboard
    from bench.suite import expand

    suite, settings = _suite(args), _settings(args)
    jobs = expand(suite)
    out.print(
        f"suite [bold]{suite.name}[/] ({suite.path}): {len(jobs)} jobs, executor {args.executor or settings.run.executor}, "
        f"runs in {settings.runs_root}"
    )
    from bench.runner import split_finished

    _, pending = split_finished(jobs, settings)
    with _Progress(pending, out) as progress:
        summary = run_suite(suite, settings, progress, executor=args.executor)
    out.print(
        f"{len(summary.skipped)} already finished, {len(summary.records)} run in {summary.seconds:.1f} s, "
        f"{len(summary.failed)} failed"
    )
    md, csv_path = write_leaderboard(suite, settings)
    out.print(f"leaderboard: {md} and {csv_path}")
    for record in summary.failed:
        err.print(f"[red]failed[/] {escape(str(record.get('label')))}: {escape(str(record.get('error')))}")
    return 1 if summary.failed else 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from bench.runner import write_leaderboard

    md, csv_path = write_leaderboard(_suite(args), _settings(args))
    out.print(md.read_text(), markup=False)
    out.print(f"written: {md} and {csv_path}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from bench.report.collect import collect
    from bench.report.compare import compare

    if args.tolerance < 0:
        raise BenchError(f"--tolerance must be >= 0, got {args.tolerance}")
    suite, settings = _suite(args), _settings(args)
    compared, skipped = compare(collect(suite, settings), args.tolerance)
    table = Table(title=f"{suite.name}: measured vs published (tolerance {args.tolerance:g} points)")
    for column in ("method", "dataset", "backbone", "epochs", "ours", "n", "published", "Δ", "verdict"):
        table.add_column(column)
    for c in compared:
        cell = c.cell
        table.add_row(
            cell.method,
            cell.dataset,
            cell.backbone,
            str(cell.epochs),
            f"{cell.mean:.2f}",
            str(cell.n),
            f"{cell.primary.value:.2f}",
            f"{cell.delta:+.2f}",
            "[red]REGRESSION[/]" if c.regression else "[green]ok[/]",
        )
    out.print(table)
    for cell in skipped:
        out.print(
            escape(
                f"not compared: {cell.method}/{cell.dataset}/{cell.backbone}: {cell.not_comparable_reason}"
            )
        )
    regressions = [c for c in compared if c.regression]
    if not compared:
        out.print("no cell is comparable with a published value; nothing was checked")
    out.print(f"{len(compared)} compared, {len(regressions)} regressions, {len(skipped)} not comparable")
    return 1 if regressions else 0


def cmd_worker(args: argparse.Namespace) -> int:
    from bench.executors.local import worker_main

    return worker_main(args.run_dir)


# --- parser -----------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench", description="Benchmark harness for mixup augmentation.")
    p.add_argument(
        "--config", help="bench.toml to use (default: the nearest one above the working directory)"
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def suite_command(name: str, help_text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        cmd.add_argument("suite", help="suite YAML file, e.g. suites/smoke.yaml")
        cmd.add_argument("--scale", type=float, help="run at this fraction of epochs and data, in (0, 1]")
        cmd.add_argument(
            "--data-root", help="folder with the dataset releases (overrides bench.toml and BENCH_DATA_ROOT)"
        )
        return cmd

    run = suite_command("run", "train every unfinished job of a suite, then write its leaderboard")
    run.add_argument("--executor", choices=["inline", "local"], help="override bench.toml's executor")
    run.add_argument("--device", choices=["auto", "cpu", "cuda"])
    run.add_argument("--precision", choices=["auto", "fp32", "bf16"])
    run.add_argument("--workers", type=int, help="local executor: CPU worker processes")
    run.set_defaults(func=cmd_run)
    suite_command("plan", "print a suite's job matrix without running anything").set_defaults(func=cmd_plan)
    suite_command("leaderboard", "write reports/<suite>.md and .csv from the run records").set_defaults(
        func=cmd_leaderboard
    )
    compare = suite_command("compare", "compare measured cells with published values; exit 1 on a regression")
    compare.add_argument(
        "--tolerance", type=float, default=1.0, help="allowed shortfall in points (default 1.0)"
    )
    compare.set_defaults(func=cmd_compare)
    ls = sub.add_parser("ls", help="list registered methods, backbones or datasets")
    ls.add_argument("kind", choices=["methods", "backbones", "datasets"])
    ls.set_defaults(func=cmd_ls)
    worker = sub.add_parser("_worker")  # internal: one job in a worker process
    worker.add_argument("run_dir")
    worker.set_defaults(func=cmd_worker)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except BenchError as exc:
        err.print(Text("error: ", style="red") + Text(str(exc)), soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted: finished epochs are checkpointed; run the same command again to resume")
        return 130


if __name__ == "__main__":
    sys.exit(main())
