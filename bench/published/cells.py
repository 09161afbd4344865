"""Which suite cell a released log trained, and where the log's stated settings differ from it.

A log maps to the cells with its (dataset, backbone, method, epochs). `differences` compares what
the log's header states (`ReleasedLog.config`, in the suite's names) with the cell's job, key by
key, and says every disagreement ("alpha: log 1.0, cell 0.2"); a log is never mapped silently.
Keys the header does not state are not compared; settings the harness has no name for are listed
when the log turns them on (e.g. the older AdAutoMix class's mask loss).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.job import Job
from bench.published.logs import ReleasedLog

Cell = tuple[str, str, str, int]
# what the harness calls the recipe keys of a log's header (bench.published.logconfig)
RECIPE_KEYS = (
    "epochs",
    "gpus",
    "batch_size",
    "optimizer",
    "lr",
    "weight_decay",
    "momentum",
    "min_lr",
    "warmup_epochs",
)
RECIPE_KEYS += ("grad_clip", "drop_path", "label_smoothing", "pretrained")
# learned-method settings a log may state that have no counterpart in a harness method's params
UNSUPPORTED = ("mask_loss", "switch_off", "mix_samples", "is_random", "beta", "mixup_ratio")


def job_settings(job: Job) -> dict[str, Any]:
    """The cell's settings in the names of a log header's hyper-parameters."""
    r = job.recipe
    out: dict[str, Any] = {
        "epochs": job.nominal_epochs,
        "gpus": job.gpus,
        "batch_size": r.batch_size,
        "optimizer": r.optimizer.name,
        "lr": r.optimizer.lr,
        "weight_decay": r.optimizer.weight_decay,
        "min_lr": r.schedule.min_lr,
        "warmup_epochs": r.schedule.warmup_epochs,
        "grad_clip": r.grad_clip,
        "drop_path": r.drop_path,
        "label_smoothing": r.label_smoothing,
        "pretrained": r.pretrained,
    }
    if r.optimizer.name == "sgd":
        out["momentum"] = r.optimizer.momentum
    params = dict(job.params)
    if "mix_block_lr" in params:  # None: the recipe's
        params["mix_block_lr"] = (
            params["mix_block_lr"] if params["mix_block_lr"] is not None else r.optimizer.lr
        )
        min_lr = params.get("mix_block_min_lr")
        params["mix_block_min_lr"] = min_lr if min_lr is not None else r.schedule.min_lr
    return {**params, **out}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b) if a is not None and b is not None else a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def differences(log: ReleasedLog, job: Job) -> list[str]:
    """'key: log X, cell Y' for every stated setting that differs (empty: the log is the cell's run)."""
    ours = job_settings(job)
    out = []
    for key, value in log.config.items():
        if key == "class":
            continue
        if key in ours:
            if not _same(value, ours[key]):
                out.append(f"{key}: log {value}, cell {ours[key]}")
        elif key in UNSUPPORTED and value not in (None, 0, 0.0, False):
            out.append(f"{key}: log {value}, the harness's {job.method_name} has no such setting")
    return out


def suite_jobs(paths: Iterable[Path]) -> dict[Cell, list[Job]]:
    """cell -> one job per suite that has it (its lowest seed): the settings a log is compared with."""
    from bench import suite as suite_mod

    cells: dict[Cell, list[Job]] = {}
    for path in paths:
        seen = set()
        for job in suite_mod.expand(suite_mod.load(path)):
            cell = (job.dataset, job.backbone, job.method_name, job.nominal_epochs)
            if cell not in seen:
                seen.add(cell)
                cells.setdefault(cell, []).append(job)
    return cells
