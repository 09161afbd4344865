"""A job: one cell of a suite (method x backbone x dataset x seed), fully resolved and frozen.

Its id is a hash of the canonical JSON of everything that determines its numbers, so a re-run of
a suite finds finished jobs by content, and changing any setting (or a method's version) gives a
new id instead of silently reusing an old result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from bench import records, schema
from bench.recipe import Recipe

# Bump when the meaning of a spec changes (training loop semantics, data pipeline, ...).
SPEC_VERSION = 1


@dataclass(frozen=True)
class Report:
    """How a cell becomes a number in the leaderboard; does not change training, so not hashed."""

    reducer: str = "median_last10"
    network: str = "auto"  # auto: the method's primary network; 'a|b': the larger of a and b
    # Why this cell's recipe is known to differ from the one behind its published value (e.g. an
    # augmentation the harness lacks); non-empty: the cell is shown but never compared.
    recipe_gap: str = ""
    # For a labelled variant: the published method whose rows it stands for (its registry name, or
    # the normalised name of a published row such as an ablation); empty: a variant is compared with
    # nothing. A variant that changes no parameter still needs it: a label is a claim of difference.
    stands_for: str = ""

    def __post_init__(self) -> None:
        from bench import reducers

        reducers.check(self.reducer)


def cell_label(method: str, backbone: str, dataset: str, seed: int) -> str:
    """How messages, logs and progress lines name one cell of a suite."""
    return f"{method}/{backbone}/{dataset}/seed {seed}"


@dataclass(frozen=True)
class Job:
    suite: str
    method: str  # the label on the methods axis (a method name, or a variant's label)
    method_name: str  # the registry name of the method
    method_version: int
    params: Mapping[str, Any]
    backbone: str
    dataset: str
    seed: int
    recipe: Recipe
    scale: float = 1.0  # < 1: a reduced-scale run, never comparable with published numbers
    report: Report = field(default_factory=Report)
    budget_epochs: int = 0  # the suite's epochs before scaling (0: recipe.epochs); not hashed
    # Processes (one per GPU) training this job. Hashed when > 1: BatchNorm sees batch_size / gpus
    # images per process, so the numbers depend on it; one-process jobs keep the ids they had.
    gpus: int = 1

    @property
    def label(self) -> str:
        """method/backbone/dataset/seed N, the job's name in messages and logs (`method` is the
        label on the methods axis, so two variants of one method read apart)."""
        return cell_label(self.method, self.backbone, self.dataset, self.seed)

    @property
    def nominal_epochs(self) -> int:
        return self.budget_epochs or self.recipe.epochs

    def spec(self) -> dict[str, Any]:
        """Everything that determines this job's numbers, as plain data (hashed into the id)."""
        spec = {
            "spec_version": SPEC_VERSION,
            "method": self.method_name,
            "method_version": self.method_version,
            "params": schema.to_plain(self.params),
            "backbone": self.backbone,
            "dataset": self.dataset,
            "seed": self.seed,
            "recipe": schema.to_plain(self.recipe),
            "scale": self.scale,
        }
        if self.gpus > 1:
            spec["gpus"] = self.gpus
        return spec

    @cached_property
    def id(self) -> str:
        canonical = json.dumps(self.spec(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def cell(self) -> dict[str, Any]:
        """The axis values that locate this job in its suite."""
        return {"method": self.method, "backbone": self.backbone, "dataset": self.dataset, "seed": self.seed}

    def run_dir(self, runs_root: Path) -> Path:
        """The job's folder in the run store, shared by every suite that has this job (bench/records.py)."""
        return records.run_dir(runs_root, self.id)

    def to_record(self) -> dict[str, Any]:
        """spec.json: the spec plus where the job came from."""
        return {
            "id": self.id,
            "suite": self.suite,
            "label": self.method,
            "report": schema.to_plain(self.report),
            "budget_epochs": self.nominal_epochs,
            **self.spec(),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Job:
        """Rebuild a job from spec.json (used by worker processes)."""
        job = cls(
            suite=record["suite"],
            method=record["label"],
            method_name=record["method"],
            method_version=record["method_version"],
            params=dict(record["params"]),
            backbone=record["backbone"],
            dataset=record["dataset"],
            seed=record["seed"],
            recipe=schema.build(Recipe, record["recipe"]),
            scale=record["scale"],
            report=schema.build(Report, record.get("report", {})),
            budget_epochs=record.get("budget_epochs", 0),
            gpus=record.get("gpus", 1),
        )
        if job.id != record["id"]:
            raise ValueError(f"spec.json id {record['id']} does not match its content ({job.id})")
        return job
