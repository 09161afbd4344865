"""From a suite and its run folders to one `Cell` per (method, dataset, backbone): the numbers
every leaderboard and comparison is rendered from.

The suite is expanded again (a pure function) so the table shows exactly the suite's cells, in
its order, with its reducer, whether or not every job has run. Reducers are applied to the
curves in `metrics.jsonl`, so changing a suite's reducer needs no retraining.

A seed's number is used only when its record holds up: the run finished, its curve has every
epoch the job trains and every evaluation its `eval_every` implies, and every value is a finite
percentage. Otherwise the seed is failed, not run or invalid (a NaN, a torn curve), and the cell
says so; a cell with any such seed is incomplete and is neither compared nor ranked. Each
published row of the cell carries the reasons (`bench.report.comparable`) it cannot be compared.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import records, reducers, registry
from bench.job import Job
from bench.report import comparable
from bench.report.comparable import PublishedLike
from bench.settings import Settings
from bench.suite import Suite, expand

Column = tuple[str, str, int]  # (dataset, backbone, budget epochs)
TOP1 = "top1"  # the published metric a leaderboard cell is compared with


@dataclass(frozen=True)
class Provenance:
    """What produced one run: the machine, the torch build and the code."""

    cpu: str | None = None
    gpu: str | None = None
    torch: str | None = None
    cuda: str | None = None
    commit: str | None = None

    @classmethod
    def of(cls, result: records.Result) -> Provenance:
        machine, versions = result.machine, result.versions or {}
        return cls(
            cpu=machine.cpu if machine else None,
            gpu=machine.gpu if machine else None,
            torch=machine.torch if machine else versions.get("torch"),
            cuda=machine.cuda if machine else None,
            commit=versions.get("git_commit"),
        )

    @property
    def hardware(self) -> str:
        if self.cpu is None and self.gpu is None:
            return "hardware not recorded"
        return f"{self.gpu} (host {self.cpu or 'unknown CPU'})" if self.gpu else f"{self.cpu}, no GPU"


@dataclass
class Cell:
    method: str
    method_name: str
    dataset: str
    backbone: str
    epochs: int  # the suite's budget, before any scaling
    epochs_run: int  # the epochs actually trained (the budget times the scale, rounded up)
    scale: float
    reducer: str
    network: str
    full_data: bool  # every training and test image used
    jobs: list[Job] = field(default_factory=list)  # one per seed the suite expands, in its order
    seeds: list[int] = field(default_factory=list)  # seeds with a value
    values: list[float] = field(default_factory=list)
    networks_used: list[str] = field(default_factory=list)  # which alternative each value came from
    curves: list[list[tuple[int, float]]] = field(default_factory=list)  # per seed: (epoch, top-1)
    errors: list[str] = field(default_factory=list)  # "seed N: message": the job failed
    missing: list[int] = field(default_factory=list)  # seeds not run yet
    invalid: list[str] = field(default_factory=list)  # "seed N: why": a finished record that does not hold up
    published: list[PublishedLike] = field(default_factory=list)  # comparable first, then primary role
    verdicts: list[list[str]] = field(default_factory=list)  # per published row: why not comparable
    recipe_gap: str = ""  # the suite's reason this cell's recipe is not the published one
    partial_data: str = ""  # how the images the runs read fell short of the release ('' if they did not)
    test_images: list[int] = field(default_factory=list)  # per seed with a value, when recorded
    train_seconds: list[float | None] = field(default_factory=list)  # per seed with a value
    images_seen: list[int | None] = field(default_factory=list)  # training images over all epochs
    machines: list[Provenance] = field(default_factory=list)  # per seed with a value
    params: dict[str, Any] = field(default_factory=dict)  # the method's parameters (first seed's)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def expected(self) -> int:
        """Seeds the suite asks for in this cell."""
        return len(self.jobs) or self.n + len(self.errors) + len(self.missing) + len(self.invalid)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.values) if self.values else None

    @property
    def std(self) -> float | None:
        return statistics.stdev(self.values) if len(self.values) > 1 else None

    @property
    def incomplete(self) -> str:
        """'' when every seed the suite asks for has a valid value; else what is missing."""
        parts = []
        if self.errors:
            parts.append(f"{len(self.errors)} of {self.expected} seeds failed")
        if self.invalid:
            parts.append("; ".join(self.invalid))
        if self.missing:
            parts.append(f"{len(self.missing)} of {self.expected} seeds not run")
        return "; ".join(parts)

    @property
    def test_selected(self) -> bool:
        """Our number was picked on the test set (a best-epoch reducer, or the better of two heads)."""
        return test_selected(self.reducer, self.network)

    @property
    def primary(self) -> PublishedLike | None:
        """The published value compared with: the first comparable row, else the first listed."""
        return self.published[0] if self.published else None

    @property
    def reasons(self) -> list[str]:
        """Why the primary published value may not be compared with this cell's runs ([]: it may),
        before completeness: the comparison rule's reasons, then what the records add."""
        if self.primary is None:
            return ["no published value"]
        found = list(self.verdicts[0]) if self.verdicts else []
        if self.scale < 1:  # `comparable` says so too; a reduced-scale number is never compared
            found = list(dict.fromkeys([comparable.scale_reason(self.scale), *found]))
        if self.partial_data:
            found.append(f"the data on disk is not the full release ({self.partial_data})")
        return found

    @property
    def not_comparable_reason(self) -> str | None:
        """Why no Δ may be printed (None: it may): not comparable, incomplete or nothing measured."""
        found = self.reasons
        if self.incomplete:
            found = [*found, f"incomplete: {self.incomplete}"]
        return comparable.not_comparable_text(found) if found else None

    @property
    def delta(self) -> float | None:
        """ours − published, only where a Δ may be printed."""
        if self.mean is None or self.primary is None or self.not_comparable_reason is not None:
            return None
        return self.mean - self.primary.value

    @property
    def conflicting(self) -> bool:
        """The sources disagree: two published values differ, or a row's notes say [CONFLICT]."""
        return len({p.value for p in self.published}) > 1 or any(disagrees(p) for p in self.published)


def disagrees(row: PublishedLike) -> bool:
    """The row's verification found another source with another value (or its notes say so)."""
    checks = getattr(row, "checks", {})
    return bool(checks.get("differs")) or "[CONFLICT" in getattr(row, "notes", "")


def test_selected(reducer: str, network: str) -> bool:
    """A number chosen by its test accuracy: the best epoch, the larger of two medians
    (OpenMixup's automix window), or the larger of two networks."""
    return reducer == "best" or reducer.startswith(("best_last", "openmixup_automix")) or "|" in network


def resolve_network(job: Job) -> str:
    return comparable.resolved_network(job)


def expected_evaluations(epochs: int, every: int) -> list[int]:
    """The epochs a job evaluates: every `every`-th and always the last."""
    return [e for e in range(1, epochs + 1) if e % every == 0 or e == epochs]


@dataclass(frozen=True)
class _Run:
    value: float
    network: str
    curve: list[tuple[int, float]]
    result: records.Result


def _read_run(job: Job, run_dir: Path, network: str) -> _Run | tuple[str, str] | None:
    """The seed's value, ("failed" | "invalid", why), or None if it has not run."""
    run = records.read_run(run_dir, job)
    if run.problem is not None:  # files that cannot be read, or disagree with each other
        return "invalid", str(run.problem)
    if run.result is None:
        return None
    if not run.result.ok:
        return "failed", run.result.error or f"status {run.result.status!r} without a message"
    history = [row.to_dict() for row in run.metrics]
    torn = _torn(job, history, run.result.epochs_completed, network)
    if torn:
        return "invalid", torn
    curves = _curves(history)
    try:
        value, used = reducers.reduce_networks(curves, network, job.report.reducer, epochs=job.recipe.epochs)
    except (KeyError, ValueError) as exc:
        return "invalid", f"cannot reduce: {exc}"
    return _Run(value, used, curves[used], run.result)


def _curves(history: list[dict[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    out: dict[str, list[tuple[int, float]]] = {}
    for row in history:
        for name, value in (row.get("test_top1") or {}).items():
            out.setdefault(name, []).append((int(row["epoch"]), value))
    return out


def _torn(job: Job, history: list[dict[str, Any]], claimed: int, network: str) -> str:
    """Why the record does not support a value ('' when it does): a curve shorter than the epochs
    the job trains or than its result claims, a missing evaluation, a value that is not a finite
    percentage."""
    epochs = job.recipe.epochs
    if claimed and claimed != epochs:
        return f"result.json claims {claimed} epochs of the {epochs} the job trains"
    try:
        recorded = [int(row["epoch"]) for row in history]
    except (KeyError, TypeError, ValueError):
        return "metrics.jsonl has a row without an epoch"
    if recorded != list(range(1, epochs + 1)):
        last = recorded[-1] if recorded else 0
        return (
            f"torn curve: metrics.jsonl has {len(recorded)} rows (last epoch {last}) of the {epochs} epochs"
        )
    wanted = expected_evaluations(epochs, job.recipe.eval_every)
    curves = _curves(history)
    for name in network.split("|"):
        got = [e for e, _ in curves.get(name, [])]
        if got != wanted:
            return f"torn curve: {name} evaluated at {len(got)} of the {len(wanted)} epochs the job evaluates"
        for epoch, value in curves[name]:
            if not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value <= 100:
                return f"top-1 of {name} is {value} at epoch {epoch}"
    return ""


def shortfall(job: Job, images: dict[str, int]) -> str:
    """'' when a run read as many images as the full release gives at its fractions; else what it
    read, e.g. '5,000 of 50,000 train images' (an incomplete copy of the release, or a stand-in)."""
    sizes = registry.get("datasets", job.dataset).load().split_sizes
    short = []
    for split, fraction in (("train", job.recipe.train_fraction), ("test", job.recipe.test_fraction)):
        read, full = images.get(split), sizes.get(split)
        if read is None or not full:
            continue
        expected = max(1, int(full * fraction))  # as bench.data.base.subset_indices keeps
        if read < expected:
            short.append(f"{read:,} of {expected:,} {split} images")
    return ", ".join(short)


def new_cell(job: Job, network: str, reducer: str | None = None) -> Cell:
    """An empty cell for `job`'s row and column, read from `network` with `reducer` (default: the
    suite's)."""
    return Cell(
        method=job.method,
        method_name=job.method_name,
        dataset=job.dataset,
        backbone=job.backbone,
        epochs=job.nominal_epochs,
        epochs_run=job.recipe.epochs,
        scale=job.scale,
        reducer=reducer or job.report.reducer,
        network=network,
        full_data=job.recipe.full_data,
        recipe_gap=job.report.recipe_gap,
        params=dict(job.params),
    )


def _add_run(cell: Cell, job: Job, outcome: _Run | tuple[str, str] | None) -> None:
    if outcome is None:
        cell.missing.append(job.seed)
    elif isinstance(outcome, tuple):
        kind, why = outcome
        (cell.errors if kind == "failed" else cell.invalid).append(f"seed {job.seed}: {why}")
    else:
        result = outcome.result
        cell.partial_data = cell.partial_data or shortfall(job, result.images)
        cell.values.append(outcome.value)
        cell.networks_used.append(outcome.network)
        cell.curves.append(outcome.curve)
        cell.seeds.append(job.seed)
        if result.images.get("test"):
            cell.test_images.append(int(result.images["test"]))
        cell.train_seconds.append(float(result.train_seconds) if result.train_seconds else None)
        train = result.images.get("train")
        cell.images_seen.append(int(train) * job.recipe.epochs if train else None)
        cell.machines.append(Provenance.of(result))


def published_rows(settings: Settings) -> list[PublishedLike]:
    """Every published row (`bench.published.table`), less those of recipes the harness does not
    train (they are other experiments, not other values of this cell)."""
    from bench.published import table
    from bench.report.published import OTHER_RECIPES

    return [row for row in table.load(settings.published_dir) if not OTHER_RECIPES.search(row.table)]


def attach_published(cell: Cell, rows: list[PublishedLike], suites_dir: Path, metric: str = TOP1) -> None:
    """The cell's rows of `metric` (top-1 for a leaderboard; the robustness table asks for its
    columns' metrics), each with its reasons (over every seed's job), comparable first."""
    if not cell.jobs:
        return
    job = cell.jobs[0]
    method = comparable.stands_for(job) or job.method_name
    found = []
    for order, row in enumerate(rows):
        if (row.metric, row.dataset, row.backbone, row.method, row.epochs) != (
            metric,
            cell.dataset,
            cell.backbone,
            method,
            cell.epochs,
        ):
            continue
        reference = comparable.reference_job(row, suites_dir)
        why = list(dict.fromkeys(r for j in cell.jobs for r in comparable.reasons(j, row, reference)))
        found.append((bool(why), getattr(row, "role", "primary") != "primary", order, row, why))
    found.sort(key=lambda item: item[:3])
    cell.published = [item[3] for item in found]
    cell.verdicts = [item[4] for item in found]


def collect(
    suite: Suite,
    settings: Settings,
    published: list[PublishedLike] | None = None,
    suites_dir: Path | None = None,
) -> list[Cell]:
    """One cell per (method, dataset, backbone) of the suite, with its runs and published rows.

    `published` defaults to the table under `settings.published_dir`; `suites_dir` (where the
    paper suites that state the published conditions live) to `suites/` beside `bench.toml`.
    """
    rows = published_rows(settings) if published is None else published
    suites_dir = suites_dir or Path(settings.base_dir) / "suites"
    cells: dict[tuple[str, str, str], Cell] = {}
    for job in expand(suite):
        key = (job.method, job.dataset, job.backbone)
        network = resolve_network(job)
        cell = cells.setdefault(key, new_cell(job, network))
        cell.jobs.append(job)
        _add_run(cell, job, _read_run(job, records.locate(job, settings.runs_root), network))
    for cell in cells.values():
        attach_published(cell, rows, suites_dir)
    return list(cells.values())


def columns(cells: list[Cell]) -> list[Column]:
    """Columns grouped by dataset (in order of first appearance), then backbone and budget."""
    found = list(dict.fromkeys((c.dataset, c.backbone, c.epochs) for c in cells))
    datasets = list(dict.fromkeys(col[0] for col in found))
    return sorted(found, key=lambda col: datasets.index(col[0]))  # stable: keeps the backbone order


def rows(cells: list[Cell]) -> list[str]:
    """Method labels in the suite's order (its methods axis, then methods only `include` adds)."""
    return list(dict.fromkeys(c.method for c in cells))


def column_of(cell: Cell) -> Column:
    return (cell.dataset, cell.backbone, cell.epochs)
