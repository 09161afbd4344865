"""`bench robustness [SUITE | RUN_DIR...] --fgsm --corruption [--pgd] [--autoattack] [--ece]`:
evaluate finished runs' networks, store the results in each run folder, and write
reports/<name>.md and .csv shaped like AdAutoMix's robustness table.

A run that cannot be evaluated (never finished, checkpoint does not fit, corruption files
missing) is reported with its reason and makes the exit status 1; the other runs are evaluated
and nothing stored is lost.
"""

from __future__ import annotations

import argparse
import time
import traceback
from pathlib import Path
from typing import Any

from rich.markup import escape

from bench.commands.common import add_device_arguments, err, load_settings, out
from bench.errors import BenchError
from bench.text import plural

FLAGS = {  # flag -> RobustnessConfig field, for the valued options
    "eps": "eps_255",
    "pgd_steps": "pgd_steps",
    "pgd_step_size": "pgd_step_size_255",
    "pgd_restarts": "pgd_restarts",
    "attack_images": "attack_images",
    "autoattack_version": "autoattack_version",
    "seed": "seed",
    "corruption_source": "corruption_source",
    "batch_size": "batch_size",
    "ece_bins": "ece_bins",
    "mce_baseline": "mce_baseline",
}


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "robustness",
        help="corruption, adversarial and calibration evaluation of finished runs",
        description="Evaluate the networks of finished runs (a suite's, or run folders) and write reports/<name>.md and .csv.",
    )
    cmd.add_argument(
        "targets",
        nargs="+",
        metavar="SUITE | RUN_DIR",
        help="a suite YAML file, or run folders (or folders holding them)",
    )
    what = cmd.add_argument_group("evaluators (default: the suite's robustness section)")
    what.add_argument("--fgsm", action="store_true", help="FGSM error at ε (default 8/255)")
    what.add_argument(
        "--corruption",
        action="store_true",
        help="top-1 on the corrupted test set, every corruption and severity",
    )
    what.add_argument("--pgd", action="store_true", help="PGD error")
    what.add_argument(
        "--autoattack", action="store_true", help="AutoAttack error (reference implementation, pyautoattack)"
    )
    what.add_argument(
        "--ece", action="store_true", help="expected calibration error and a reliability diagram per run"
    )
    how = cmd.add_argument_group("settings")
    how.add_argument("--eps", type=float, help="attack budget in 1/255 of [0, 1] pixel space (default 8)")
    how.add_argument("--pgd-steps", type=int, help="PGD steps (default 10)")
    how.add_argument("--pgd-step-size", type=float, help="PGD step size in 1/255 (default 2)")
    how.add_argument("--pgd-restarts", type=int, help="PGD restarts (default 1)")
    how.add_argument("--no-pgd-random-start", action="store_true", help="start PGD at the clean image")
    how.add_argument(
        "--attack-images", type=int, help="PGD and AutoAttack on the first N test images (default all)"
    )
    how.add_argument(
        "--autoattack-version",
        choices=["standard", "plus", "rand"],
        help="AutoAttack's attack set (default standard: APGD-CE, APGD-T, FAB-T, Square)",
    )
    how.add_argument(
        "--seed", type=int, help="seed of PGD starts, AutoAttack and generated corruptions (default 0)"
    )
    how.add_argument(
        "--corruption-source",
        choices=["auto", "release", "generated"],
        help="auto (default): the released -C set where one exists, else generated with imagecorruptions",
    )
    how.add_argument("--batch-size", type=int, help="evaluation batch size (default 256)")
    how.add_argument("--ece-bins", type=int, help="ECE bins (default 15)")
    how.add_argument("--mce-baseline", help="mCE baseline: a method label of the same suite, or a run folder")
    how.add_argument(
        "--force", action="store_true", help="re-evaluate even what is stored with the same settings"
    )
    how.add_argument("--name", help="report name (default <suite>-robustness, or robustness for run folders)")
    how.add_argument("--scale", type=float, help="with a suite: its runs at this scale")
    how.add_argument(
        "--data-root", help="folder with the dataset releases (overrides bench.toml and BENCH_DATA_ROOT)"
    )
    add_device_arguments(how)
    cmd.set_defaults(func=run)


def _config(args: argparse.Namespace, base: Any):
    from bench import schema
    from bench.evaluate.config import EVALUATORS, RobustnessConfig

    data = schema.to_plain(base) if base is not None else {}
    for name in EVALUATORS:
        if getattr(args, name):
            data[name] = True
    for flag, key in FLAGS.items():
        if getattr(args, flag) is not None:
            data[key] = getattr(args, flag)
    if args.no_pgd_random_start:
        data["pgd_random_start"] = False
    try:
        config = schema.build(RobustnessConfig, data, "robustness")
    except BenchError as exc:
        raise BenchError(f"command line: {exc}") from None
    if not config.evaluators:
        raise BenchError(
            "nothing to evaluate: pass --fgsm, --corruption, --pgd, --autoattack or --ece (or give the suite a robustness section)"
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


def run(args: argparse.Namespace) -> int:
    from bench import records
    from bench import suite as suite_mod
    from bench.models.restore import RestoreError, read_job

    if args.name:  # the report's file name
        from bench import safe_io

        safe_io.check_component(args.name, "--name")
    settings = load_settings(args)
    if settings.run.device == "cuda":  # a device that is not there fails before any run is evaluated
        from bench import runtime

        runtime.resolve(settings.run)
    suite = None
    if len(args.targets) == 1 and args.targets[0].endswith((".yaml", ".yml")):
        suite = suite_mod.load(args.targets[0])
        if args.scale:
            suite = suite.with_scale(args.scale)
        entries = [(job, records.locate(job, settings.runs_root)) for job in suite_mod.expand(suite)]
        unreadable: dict[Path, str] = {}
    else:
        if args.scale:
            raise BenchError("--scale applies to a suite, not to run folders")
        entries, unreadable = [], {}
        for run_dir in _run_dirs(args.targets):
            try:
                entries.append((read_job(run_dir), run_dir))
            except RestoreError as exc:
                unreadable[run_dir] = str(exc)
    config = _config(args, suite.data.robustness if suite else None)
    name = args.name or (
        f"{suite.name}-robustness" + (f"-scale{suite.scale:g}" if suite.scale < 1 else "")
        if suite
        else "robustness"
    )
    for run_dir, message in unreadable.items():
        err.print(f"[red]failed[/] {escape(str(run_dir))}: {escape(message)}")
    failed = evaluate_and_report(
        entries,
        config,
        settings,
        name=name,
        origin=suite.path if suite else " ".join(args.targets),
        force=args.force,
    )
    return 1 if failed or unreadable else 0


def evaluate_and_report(
    entries: list, config: Any, settings: Any, *, name: str, origin: str, force: bool = False
) -> dict[Path, str]:
    """Evaluate every (job, run folder), then write the report; returns run folder -> error for the failures."""
    from bench import records
    from bench.evaluate.robustness import evaluate_run
    from bench.report import robustness as report
    from bench.report.write import staged

    failures: dict[Path, str] = {}
    out.print(f"robustness ({', '.join(config.evaluators)}) of {plural(len(entries), 'run')}")
    for i, (job, run_dir) in enumerate(entries, 1):
        label = job.label

        def log(message: str, label: str = label, run_dir: Path = run_dir) -> None:
            out.print(f"  {escape(label)}: {escape(message)}")
            if run_dir.is_dir():
                records.log_line(run_dir, f"robustness {message}")

        tic = time.time()
        try:
            outcome = evaluate_run(run_dir, config, settings, force=force, log=log)
        except BenchError as exc:
            failures[run_dir] = str(exc)
        except Exception as exc:  # a bug: keep the traceback in the run's log, go on with the others
            log("error:\n" + traceback.format_exc())
            failures[run_dir] = f"{type(exc).__name__}: {exc} (traceback in {run_dir / records.LOG})"
        if run_dir in failures:
            out.print(
                f"[{i}/{len(entries)}] {escape(label)}: [red]error[/] {escape(failures[run_dir].splitlines()[0])}"
            )
            continue
        skipped = f", already stored: {', '.join(outcome.skipped)}" if outcome.skipped else ""
        out.print(
            f"[{i}/{len(entries)}] {escape(label)}: [green]ok[/] ({time.time() - tic:.1f} s{escape(skipped)})"
        )

    reported, every = report.collect(
        entries, settings.published_dir, errors=failures, mce_baseline=config.mce_baseline
    )
    note = (
        f"Generated by `bench robustness` from `{origin}` (the run folders' `robustness.json`); do not edit by hand. "
        "Shaped like AdAutoMix's robustness table (ICLR 2024, Table 3). pub. = published value "
        "(`results/published/`), Δ = ours − published where comparable, n/c = not comparable (see notes)."
    )
    if config.mce_baseline:
        note += f" mCE baseline: `{config.mce_baseline}`."
    with staged(settings.reports_dir) as stage:  # both files or neither
        md, csv_path = report.write(
            reported,
            every,
            stage,
            name,
            title=f"Robustness: {name.removesuffix('-robustness')}",
            source_note=note,
            published_dir=settings.published_dir,
        )
    md, csv_path = settings.reports_dir / md.name, settings.reports_dir / csv_path.name
    out.print(f"robustness report: {escape(str(md))} and {escape(str(csv_path))}")
    for run_dir, message in failures.items():
        err.print(f"[red]failed[/] {escape(str(run_dir))}: {escape(message)}")
    return failures
