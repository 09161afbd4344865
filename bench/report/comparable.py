"""Is a measured cell the experiment behind a published number? The one rule every report applies.

A published number was measured under stated conditions: the paper suites' cells
(`suites/paper_*.yaml`) are that statement, one cell per published row (the row's `suite` names
the file). `reference_job(row, suites_dir)` finds that cell; `reasons(measured, row, reference)`
compares the measured job with it over everything that determines the number (the whole recipe,
the method and its parameters, the GPU count, the scale, the reducer and network, labelled
variants, a declared `recipe_gap`) and returns one short reason per difference, ours first:
"alpha 0.2 ≠ 1.0", "batch_size 16 ≠ 100", "gpus 1 ≠ 4". An empty list means comparable.

The leaderboard, `bench compare` and the robustness report all call these two functions, so a
cell is compared in one place or in none. What the run records add (a failed seed, a NaN, a data
shortfall) is the caller's to add: this module sees jobs and published rows, not results.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from bench import registry, schema
from bench.job import Job
from bench.recipe import Recipe

CURVE_METRIC = "top1"  # the metric reduced from a per-epoch curve; the others are one checkpoint's


class PublishedLike(Protocol):
    """What the comparison reads of a published row (`bench.published.table.PublishedRow`)."""

    dataset: str
    backbone: str
    method: str
    epochs: int
    value: float
    reducer: str
    network: str
    suite: str


def stands_for(job: Job) -> str | None:
    """The published method whose rows `job` may be compared with: its method, or for a labelled
    variant the suite's `report.stands_for` (None when the variant declares none)."""
    if job.report.stands_for:
        return job.report.stands_for
    return job.method_name if job.method == job.method_name else None


def resolved_network(job: Job) -> str:
    """The network the job's number is read from ('auto' resolved to the method's primary one)."""
    if job.report.network != "auto":
        return job.report.network
    return registry.get("methods", job.method_name).load().primary_network


def scaled_recipe(recipe: Recipe, scale: float) -> Recipe:
    from bench.suite import _scaled  # the one definition of what a scale changes

    return _scaled(recipe, scale)


@functools.lru_cache(maxsize=16)
def _suite_jobs(path: str, mtime_ns: int) -> tuple[Job, ...]:
    from bench import suite as suite_mod  # the suite module imports the evaluators' config

    return tuple(suite_mod.expand(suite_mod.load(path)))


def reference_job(row: PublishedLike, suites_dir: Path) -> Job | None:
    """The cell of paper suite `row.suite` that states how `row` was measured: same dataset,
    backbone and budget, standing for `row.method` (its first seed's job); None when the row names
    no suite, the file is missing or no cell fits."""
    if not row.suite:
        return None
    path = Path(suites_dir) / f"{row.suite}.yaml"
    if not path.is_file():
        return None
    for job in _suite_jobs(str(path.resolve()), path.stat().st_mtime_ns):
        if (job.dataset, job.backbone, job.nominal_epochs) == (row.dataset, row.backbone, row.epochs) and (
            stands_for(job) == row.method
        ):
            return job
    return None


def reasons(measured: Job, row: PublishedLike, reference: Job | None) -> list[str]:
    """Why `measured` must not be compared with `row` (measured under `reference`); [] = comparable.

    Every reason is short and concrete, ours first: "alpha 0.2 ≠ 1.0".
    """
    said: list[str] = []  # the keys reported already
    out = _identity(measured, row, said)
    if reference is None:
        cell = f"{row.dataset} · {row.backbone} · {row.method} · {row.epochs} ep"
        out.append(
            f"no reference cell: suite {row.suite} has no cell {cell}"
            if row.suite
            else f"no reference cell: no paper suite states how {cell} was measured"
        )
        return out
    if reference.report.recipe_gap:
        out.append(
            f"{reference.suite}'s cell differs from the published recipe: {reference.report.recipe_gap}"
        )
    if measured.report.recipe_gap and measured.report.recipe_gap != reference.report.recipe_gap:
        out.append(f"recipe gap: {measured.report.recipe_gap}")
    if measured.scale != reference.scale:
        out.append(scale_reason(measured.scale))
    reference_recipe = reference.recipe
    if measured.scale != reference.scale and reference.scale == 1.0:
        # the fields a reduced scale changes on purpose (epochs, data fractions, warm-up) differ
        # by the scale, said once above; scaling the reference the same way leaves the rest
        reference_recipe = scaled_recipe(reference_recipe, measured.scale)
    out += _differences(
        _conditions(measured, measured.recipe), _conditions(reference, reference_recipe), said
    )
    return out


def scale_reason(scale: float) -> str:
    return f"reduced scale ×{scale:g}: never comparable with published numbers"


def not_comparable_text(found: list[str]) -> str:
    """The reasons as one line for a note: 'alpha 0.2 ≠ 1.0; batch_size 16 ≠ 100'."""
    return "; ".join(found)


def _identity(measured: Job, row: PublishedLike, said: list[str]) -> list[str]:
    """The row must be about this cell: dataset, backbone, budget, the method it stands for, and a
    value with a stated reducer and network that match ours. Appends the keys it reports to `said`."""
    out = []
    represented = stands_for(measured)
    if represented is None:
        out.append(f"variant label {measured.method} stands for no published row (no report.stands_for)")
    elif represented != row.method:
        out.append(f"method {represented} ≠ {row.method}")
        said.append("method")
    for key, ours, theirs in (
        ("dataset", measured.dataset, row.dataset),
        ("backbone", measured.backbone, row.backbone),
        ("epochs", measured.nominal_epochs, row.epochs),
    ):
        if ours != theirs:
            out.append(f"{key} {ours} ≠ {theirs}")
            said.append(key)
    if not _finite(row.value):
        out.append("the published value is missing")
    protocol = [("network", resolved_network(measured), row.network)]
    if getattr(row, "metric", CURVE_METRIC) == CURVE_METRIC:  # robustness metrics: one checkpoint, no curve
        protocol.insert(0, ("reducer", measured.report.reducer, row.reducer))
    for key, ours, theirs in protocol:
        if theirs in ("", "unknown"):
            out.append(f"the source does not state its {key}")
        elif ours != theirs:
            out.append(f"{key} {ours} ≠ {theirs}")
    return out


def _conditions(job: Job, recipe: Recipe) -> dict[str, Any]:
    """Everything that determines the job's numbers besides its seed and scale, flat: `recipe`, the
    method, its version and parameters, the GPU count."""
    flat = {f"recipe.{k}": v for k, v in _flatten(schema.to_plain(recipe)).items()}
    flat["method"] = job.method_name
    flat["method_version"] = job.method_version
    flat |= {f"params.{k}": v for k, v in _flatten(schema.to_plain(job.params)).items()}
    flat["gpus"] = job.gpus
    return flat


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            out |= _flatten(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


_MISSING = object()


def _differences(ours: dict[str, Any], theirs: dict[str, Any], said: list[str]) -> list[str]:
    """'key ours ≠ theirs' for every key whose values differ, named as briefly as stays unique;
    keys whose short name is in `said` are left out (already reported). A different method makes
    its parameters incomparable: only the method is named then."""
    keys = [
        k
        for k in dict.fromkeys([*ours, *theirs])
        if not _same(ours.get(k, _MISSING), theirs.get(k, _MISSING))
    ]
    if "method" in keys or "method" in said:
        keys = [k for k in keys if k != "method_version" and not k.startswith("params.")]
    names = _short_names([*ours, *theirs])
    return [
        f"{names[k]} {_show(ours.get(k, _MISSING))} ≠ {_show(theirs.get(k, _MISSING))}"
        for k in keys
        if names[k] not in said
    ]


def _short_names(keys: list[str]) -> dict[str, str]:
    """Dotted keys to their last part ('recipe.optimizer.lr' -> 'lr'), or the parent for a `name`
    ('recipe.optimizer.name' -> 'optimizer'); the full path where the short one is ambiguous."""

    def short(key: str) -> str:
        parts = key.split(".")
        if parts[-1] == "name" and len(parts) > 1:
            return parts[-2]
        return parts[-1]

    shorts = [short(k) for k in dict.fromkeys(keys)]
    return {k: (s if shorts.count(s) == 1 else k) for k, s in zip(dict.fromkeys(keys), shorts)}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _show(value: Any) -> str:
    if value is _MISSING:
        return "(unset)"
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "none"
    if isinstance(value, float):
        return repr(value)  # 1.0, not 1: the suites write floats so
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
