"""Evaluate one finished run: every evaluator asked for (clean top-1 always), row by row of the
table in `config.py`, each result merged into the run folder's `robustness.json` as soon as it is
done (`store.py`). This is what an evaluation task runs on any executor (`task.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import schema
from bench.evaluate import store as store_mod
from bench.evaluate.config import ALWAYS, EVALUATORS, Evaluator, RobustnessConfig
from bench.job import Job
from bench.settings import Settings

Log = Callable[[str], None]


@dataclass
class EvaluationOutcome:
    run_dir: Path
    evaluated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already stored with the same settings


def requested(config: RobustnessConfig) -> list[str]:
    return [*ALWAYS, *config.evaluators]


def stamp(evaluator: Evaluator, settings: Any) -> dict[str, Any]:
    """The settings stored with a result: equal stamps mean the stored result can be reused."""
    return {**schema.to_plain(settings), "version": evaluator.version}


def pending(run_dir: Path, job: Job, config: RobustnessConfig) -> list[str]:
    """The evaluators asked for that the run's store lacks (with these settings), read from the
    store alone (nothing is restored), so a caller can skip runs with nothing to do."""
    store = store_mod.read_store(run_dir)
    networks = store_mod.stored_networks(store)
    return [
        name
        for name in requested(config)
        if not store_mod.is_stored(
            store, job.id, name, networks, stamp(EVALUATORS[name], config.settings(name))
        )
    ]


def evaluate_run(
    run_dir: Path,
    config: RobustnessConfig,
    settings: Settings,
    *,
    force: bool = False,
    log: Log = lambda _: None,
) -> EvaluationOutcome:
    """Run every evaluator `config` asks for on the run's networks and store each result.

    Raises BenchError (RestoreError, DataError) for a run that cannot be evaluated; whatever an
    earlier evaluator stored stays stored.
    """
    import torch

    from bench import runtime
    from bench.evaluate.context import open_run

    context = open_run(Path(run_dir), settings)
    job, networks = context.run.job, list(context.networks)
    meta = {
        "checkpoint_epoch": context.run.epoch,
        "device": context.rt.describe(),
        "machine": runtime.machine(context.rt).describe(),
        "git_commit": runtime.git_commit(),
        "torch": torch.__version__,
    }
    outcome = EvaluationOutcome(context.run_dir)
    for name in requested(config):
        evaluator, chosen = EVALUATORS[name], config.settings(name)
        spec = stamp(evaluator, chosen)
        store = store_mod.read_store(context.run_dir)
        if not force and store_mod.is_stored(store, job.id, name, networks, spec):
            outcome.skipped.append(name)
            continue
        tic = time.time()
        per_network = evaluator.load()(context, chosen)
        seconds = time.time() - tic
        extra = {**meta, "settings": spec, "seconds": round(seconds, 3), "time": _now()}
        store_mod.merge(context.run_dir, job.id, name, {k: {**v, **extra} for k, v in per_network.items()})
        outcome.evaluated.append(name)
        shown = ", ".join(f"{k} {headline(evaluator, v)}" for k, v in per_network.items())
        log(f"{name}: {shown} ({seconds:.1f} s)")
    return outcome


def headline(evaluator: Evaluator, record: dict[str, Any]) -> str:
    """'top-1 51.20' / 'error 48.80' / 'ECE 3.10': the evaluator's columns in one phrase."""
    parts = []
    for col in evaluator.columns:
        value = record.get(col.field)
        if value is not None:
            parts.append(f"{col.title.rstrip(' ↑↓')} {value:.2f}")
    return ", ".join(parts) or "done"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
