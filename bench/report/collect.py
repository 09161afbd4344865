"""From a suite and its run folders to one `Cell` per (method, dataset, backbone): the numbers
every leaderboard and comparison is rendered from.

The suite is expanded again (a pure function) so the table shows exactly the suite's cells, in
its order, with its reducer, whether or not every job has run. Reducers are applied to the
curves in `metrics.jsonl`, so changing a suite's reducer needs no retraining.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from bench import records, reducers, registry
from bench.job import Job
from bench.report.published import Published
from bench.report.published import load as load_published
from bench.settings import Settings
from bench.suite import Suite, expand

Column = tuple[str, str, int]  # (dataset, backbone, budget epochs)


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
    seeds: list[int] = field(default_factory=list)  # seeds with a value
    values: list[float] = field(default_factory=list)
    networks_used: list[str] = field(default_factory=list)  # which alternative each value came from
    curves: list[list[tuple[int, float]]] = field(
        default_factory=list
    )  # per seed: (epoch, top-1) of that network
    errors: list[str] = field(default_factory=list)  # "seed N: message"
    missing: list[int] = field(default_factory=list)  # seeds not run yet
    left_out: list[str] = field(default_factory=list)  # "seed N: why its records are not trusted"
    published: list[Published] = field(default_factory=list)
    recipe_gap: str = ""  # the suite's reason this cell's recipe is not the published one
    partial_data: str = ""  # how the images the runs read fell short of the release ('' if they did not)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.values) if self.values else None

    @property
    def std(self) -> float | None:
        return statistics.stdev(self.values) if len(self.values) > 1 else None

    @property
    def primary(self) -> Published | None:
        """The published value to compare with: the first whose reducer and network match ours,
        else the first listed (which is then marked not comparable)."""
        for pub in self.published:
            if (pub.reducer, pub.network) == (self.reducer, self.network):
                return pub
        return self.published[0] if self.published else None

    @property
    def conflicting(self) -> bool:
        """The sources disagree: two published values differ, or a row's notes say [CONFLICT]."""
        return len({p.value for p in self.published}) > 1 or any(p.conflict for p in self.published)

    @property
    def not_comparable_reason(self) -> str | None:
        """Why this cell must not be compared with its published value (None: comparable)."""
        if self.scale < 1:
            return f"reduced scale ×{self.scale:g}: never comparable with published numbers"
        pub = self.primary
        if pub is None:
            return "no published value"
        if self.recipe_gap:
            return f"recipe differs from the published one: {self.recipe_gap}"
        if not self.full_data:
            return "trained or tested on a subset of the data"
        if self.partial_data:
            return f"the data on disk is not the full release ({self.partial_data})"
        if pub.reducer != self.reducer:
            return f"reducer differs (ours {self.reducer}, published {pub.reducer})"
        if pub.network != self.network:
            return f"network differs (ours {self.network}, published {pub.network})"
        return None

    @property
    def delta(self) -> float | None:
        if self.mean is None or self.primary is None:
            return None
        return self.mean - self.primary.value


def resolve_network(job: Job) -> str:
    if job.report.network != "auto":
        return job.report.network
    return registry.get("methods", job.method_name).load().primary_network


def _read_value(
    job: Job, run_dir: Path, network: str
) -> tuple[float, str, list[tuple[int, float]], str] | str | records.Problem | None:
    """(value, network used, its (epoch, top-1) curve, data shortfall), an error message, the
    problem that makes its records untrusted (the cell leaves it out), or None if not finished."""
    run = records.read_run(run_dir, job)
    if run.problem is not None:
        return run.problem
    if run.result is None:
        return None
    if not run.result.ok:
        return run.result.error or "failed without a message"
    history = run.metrics
    try:
        value, used = reducers.reduce_networks(records.curves_from(history), network, job.report.reducer)
    except (KeyError, ValueError) as exc:
        return f"cannot reduce: {exc}"
    curve = [(row.epoch, row.test_top1[used]) for row in history if used in row.test_top1]
    return value, used, curve, shortfall(job, run.result.images)


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


def collect(suite: Suite, settings: Settings) -> list[Cell]:
    published = load_published(settings.published_dir)
    cells: dict[tuple[str, str, str], Cell] = {}
    for job in expand(suite):
        key = (job.method, job.dataset, job.backbone)
        network = resolve_network(job)
        if key not in cells:
            cells[key] = Cell(
                method=job.method,
                method_name=job.method_name,
                dataset=job.dataset,
                backbone=job.backbone,
                epochs=job.nominal_epochs,
                epochs_run=job.recipe.epochs,
                scale=job.scale,
                reducer=job.report.reducer,
                network=network,
                full_data=job.recipe.full_data,
                recipe_gap=job.report.recipe_gap,
                published=published.get((job.dataset, job.backbone, job.method_name, job.nominal_epochs), []),
            )
        cell = cells[key]
        outcome = _read_value(job, records.locate(job, settings.runs_root), network)
        if outcome is None:
            cell.missing.append(job.seed)
        elif isinstance(outcome, records.Problem):
            cell.left_out.append(f"seed {job.seed}: {outcome}")
        elif isinstance(outcome, str):
            cell.errors.append(f"seed {job.seed}: {outcome}")
        else:
            value, used, curve, short = outcome
            cell.partial_data = cell.partial_data or short
            cell.values.append(value)
            cell.networks_used.append(used)
            cell.curves.append(curve)
            cell.seeds.append(job.seed)
    return list(cells.values())


def columns(cells: list[Cell]) -> list[Column]:
    """Columns grouped by dataset (in order of first appearance), then backbone and budget."""
    found = list(dict.fromkeys((c.dataset, c.backbone, c.epochs) for c in cells))
    datasets = list(dict.fromkeys(col[0] for col in found))
    return sorted(found, key=lambda col: datasets.index(col[0]))  # stable: keeps the backbone order


def rows(cells: list[Cell]) -> list[str]:
    """Method labels in the suite's order (its methods axis, then methods only `include` adds)."""
    return list(dict.fromkeys(c.method for c in cells))
