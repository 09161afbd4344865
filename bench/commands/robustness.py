"""`bench robustness [SUITE | RUN_DIR...] --fgsm --corruption [--pgd] [--autoattack] [--ece] [--occlusion]`:
evaluate finished runs' networks on the executor of your choice (like `bench run`), store the
results in each run folder, and write reports/<name>.md and .csv shaped like AdAutoMix's
robustness table.

The evaluator flags and their settings come from the evaluator table (bench/evaluate/config.py).
A run that cannot be evaluated (never finished, checkpoint does not fit, corruption files
missing) is reported with its reason and makes the exit status 1; the other runs are evaluated
and nothing stored is lost.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from rich.markup import escape

from bench.commands.common import add_device_arguments, err, load_settings, out
from bench.errors import BenchError
from bench.schema import fields_of
from bench.text import plural


def register(sub: argparse._SubParsersAction) -> None:
    from bench.evaluate.config import EVALUATORS, OPTIONAL, RobustnessConfig

    cmd = sub.add_parser(
        "robustness",
        help="corruption, adversarial, calibration and occlusion evaluation of finished runs",
        description="Evaluate the networks of finished runs (a suite's, or run folders) and write reports/<name>.md and .csv.",
    )
    cmd.add_argument(
        "targets",
        nargs="+",
        metavar="SUITE | RUN_DIR",
        help="a suite YAML file, or run folders (or folders holding them)",
    )
    what = cmd.add_argument_group("evaluators (default: the suite's robustness section; clean top-1 always)")
    for name in OPTIONAL:
        what.add_argument(f"--{name}", action="store_true", help=EVALUATORS[name].help)
    how = cmd.add_argument_group("settings (the keys of a suite's robustness section)")
    for name, f in _flags(RobustnessConfig).items():
        if f.metadata.get("negate"):
            how.add_argument(f.metadata["flag"], dest=name, action="store_true", help=f.metadata["help"])
            continue
        choices = get_args(fields_of(RobustnessConfig)[name])
        literal = get_origin(fields_of(RobustnessConfig)[name]) is Literal
        how.add_argument(
            f.metadata["flag"],
            dest=name,
            choices=choices if literal else None,
            metavar=None if literal else f.metadata.get("metavar", "N"),
            help=f.metadata["help"],
        )
    how.add_argument(
        "--force", action="store_true", help="re-evaluate even what is stored with the same settings"
    )
    how.add_argument("--name", help="report name (default <suite>-robustness, or robustness for run folders)")
    how.add_argument("--scale", type=float, help="with a suite: its runs at this scale")
    run_on = cmd.add_argument_group("where it runs (as for bench run)")
    run_on.add_argument(
        "--executor", choices=["inline", "local", "slurm"], help="override bench.toml's executor"
    )
    run_on.add_argument("--workers", type=int, help="local executor: CPU worker processes")
    run_on.add_argument(
        "--wait",
        action="store_true",
        default=None,
        help="slurm executor: wait for the evaluations, then write the report (default: submit and return)",
    )
    run_on.add_argument(
        "--data-root", help="folder with the dataset releases (overrides bench.toml and BENCH_DATA_ROOT)"
    )
    add_device_arguments(run_on)
    cmd.set_defaults(func=run)


def _flags(cls: type) -> dict[str, dataclasses.Field]:
    """Settings fields that have a command-line flag, by field name."""
    return {f.name: f for f in dataclasses.fields(cls) if "flag" in f.metadata}


def _parse(value: str, tp: Any, flag: str) -> Any:
    """A flag's text as the value its field takes (the schema then checks ranges and choices)."""
    try:
        if tp is int:
            return int(value)
        if tp is float:
            return float(value)
        if get_origin(tp) is tuple:
            return [float(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise BenchError(f"{flag}: cannot read {value!r} as {_kind(tp)}") from None
    return value


def _kind(tp: Any) -> str:
    return {int: "an integer", float: "a number"}.get(tp, "comma-separated numbers")


def _config(args: argparse.Namespace, base: Any):
    from bench import schema
    from bench.evaluate.config import OPTIONAL, RobustnessConfig

    data = schema.to_plain(base) if base is not None else {}
    for name in OPTIONAL:
        if getattr(args, name):
            data[name] = True
    types = fields_of(RobustnessConfig)
    for name, f in _flags(RobustnessConfig).items():
        value = getattr(args, name)
        if f.metadata.get("negate"):
            if value:
                data[name] = False
        elif value is not None:
            data[name] = _parse(value, types[name], f.metadata["flag"])
    try:
        config = schema.build(RobustnessConfig, data, "robustness")
    except BenchError as exc:
        raise BenchError(f"command line: {exc}") from None
    if not config.evaluators:
        raise BenchError(
            "nothing to evaluate: pass "
            + ", ".join(f"--{n}" for n in OPTIONAL)
            + " (or give the suite a robustness section)"
        )
    return config


def _run_dirs(paths: list[str]) -> list[Path]:
    from bench import records

    found: list[Path] = []
    for text in paths:
        path = Path(text)
        if not path.exists():
            raise BenchError(f"{path}: no such file or folder")
        below = records.run_folders(path)  # a suite's view leads to the run store
        if not below:
            raise BenchError(f"{path}: no run folder (one holding {records.SPEC}) at or below it")
        found += below
    return list(dict.fromkeys(found))


def _entries(args: argparse.Namespace, settings: Any) -> tuple[Any, list, dict[Path, str]]:
    """(suite or None, [(job, run folder)], run folder -> why it cannot be read)."""
    from bench import records
    from bench import suite as suite_mod
    from bench.models.restore import RestoreError, read_job

    if len(args.targets) == 1 and args.targets[0].endswith((".yaml", ".yml")):
        suite = suite_mod.load(args.targets[0])
        if args.scale:
            suite = suite.with_scale(args.scale)
        return suite, [(job, records.locate(job, settings.runs_root)) for job in suite_mod.expand(suite)], {}
    if args.scale:
        raise BenchError("--scale applies to a suite, not to run folders")
    entries, unreadable = [], {}
    for run_dir in _run_dirs(args.targets):
        try:
            entries.append((read_job(run_dir), run_dir))
        except RestoreError as exc:
            unreadable[run_dir] = str(exc)
    return None, entries, unreadable


def report_name(suite: Any) -> str:
    return f"{suite.name}-robustness" + (f"-scale{suite.scale:g}" if suite.scale < 1 else "")


def run(args: argparse.Namespace) -> int:
    if args.name:  # the report's file name
        from bench import safe_io

        safe_io.check_component(args.name, "--name")
    settings = load_settings(args)
    if settings.run.device == "cuda":  # a device that is not there fails before any run is evaluated
        from bench import runtime

        runtime.resolve(settings.run)
    suite, entries, unreadable = _entries(args, settings)
    config = _config(args, suite.data.robustness if suite else None)
    for run_dir, message in unreadable.items():
        err.print(f"[red]failed[/] {escape(str(run_dir))}: {escape(message)}")
    failed = evaluate_and_report(
        entries,
        config,
        settings,
        name=args.name or (report_name(suite) if suite else "robustness"),
        origin=suite.path if suite else " ".join(args.targets),
        force=args.force,
        executor=args.executor,
        trained_only=suite is not None,
    )
    return 1 if failed or unreadable else 0


class EvaluationEvents:
    """What `bench robustness` prints while evaluations run: a line per finished run."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0

    def _line(self, task: Any, status: str) -> None:
        self.done += 1
        label = task.job.label
        out.print(f"\\[{self.done}/{self.total}] {escape(label)}: {status}")

    def started(self, task: Any) -> None:
        pass

    def epoch(self, task: Any, epoch: int) -> None:
        pass

    def finished(self, task: Any, result: Any) -> None:
        from bench.evaluate.task import read_details

        if not result.ok:
            self._line(task, f"[red]error[/] {escape(result.first_line)}")
            return
        details = read_details(task)
        stored = f", already stored: {', '.join(details['skipped'])}" if details.get("skipped") else ""
        self._line(task, f"[green]ok[/] ({result.wall_seconds:.1f} s{escape(stored)})")
        for line in details.get("lines", []):
            out.print(f"    {escape(line)}")

    def skipped(self, task: Any, reason: str) -> None:
        self._line(task, f"[yellow]skipped[/], {escape(reason)}")

    def info(self, message: str) -> None:
        out.print(message)


def evaluate_and_report(
    entries: list,
    config: Any,
    settings: Any,
    *,
    name: str,
    origin: str,
    force: bool = False,
    executor: str | None = None,
    trained_only: bool = False,
) -> dict[Path, str]:
    """Evaluate every (job, run folder) on the executor, then write the report (every entry has its
    row); returns run folder -> error for the failures. `trained_only` (a suite's jobs): jobs that
    have not finished training are left out of the evaluation and shown as not evaluated."""
    from bench import records
    from bench.evaluate.task import evaluate_runs
    from bench.report import robustness as report

    chosen = [(j, d) for j, d in entries if records.is_finished(d, j)] if trained_only else entries
    out.print(
        f"robustness ({', '.join(config.evaluators)}) of {plural(len(chosen), 'run')}, "
        f"executor {executor or settings.run.executor}"
    )
    if len(chosen) < len(entries):
        out.print(
            f"{plural(len(entries) - len(chosen), 'job')} of the suite {'has' if len(entries) - len(chosen) == 1 else 'have'} "
            "not finished training: not evaluated (`bench status` shows where they are)"
        )
    summary = evaluate_runs(
        chosen, config, settings, EvaluationEvents(len(chosen)), executor=executor, force=force
    )
    if summary.stored:
        held = plural(len(summary.stored), "run")
        out.print(
            f"{held} already {'holds' if len(summary.stored) == 1 else 'hold'} every evaluation asked for"
        )
    if summary.submitted:
        out.print(
            f"{plural(len(summary.tasks), 'evaluation')} submitted; once they have run, the same command writes "
            "the report from what they stored (and submits nothing more)"
        )
    failures = summary.failures
    md, csv_path = report.write_report(entries, config, settings, name=name, origin=origin, errors=failures)
    out.print(f"robustness report: {escape(str(md))} and {escape(str(csv_path))}")
    for run_dir, message in failures.items():
        err.print(f"[red]failed[/] {escape(str(run_dir))}: {escape(message)}")
    return failures
