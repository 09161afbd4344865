"""What the evaluators ask of a run folder's `robustness.json` (read and written by bench/records.py,
`RobustnessStore`): whether an evaluation is stored with the same settings, and for which networks.

    {"run_id": <job id>, "version": 1,
     "evaluations": {<evaluator>: {<network>: {<numbers>..., "settings": {...}, "seconds": ...,
                                               "device": ..., "git_commit": ..., "torch": ...}}}}

Each evaluator's result is merged as soon as it is done (`records.merge_robustness`), so a failure
leaves everything stored before it in place. An evaluation stored with the same settings for every
network is not redone unless forced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import records
from bench.records import RobustnessStore

STORE = records.ROBUSTNESS


def read_store(run_dir: Path) -> RobustnessStore:
    return records.read_robustness(run_dir)


def merge(run_dir: Path, job_id: str, evaluator: str, entries: dict[str, Any]) -> None:
    records.merge_robustness(run_dir, job_id, evaluator, entries)


def is_stored(
    store: RobustnessStore, job_id: str, evaluator: str, networks: list[str], settings: dict[str, Any]
) -> bool:
    """`evaluator` is stored for this job with exactly these settings for every network."""
    if store.run_id != job_id or not networks:
        return False
    entries = store.evaluations.get(evaluator, {})
    return all(entries.get(n, {}).get("settings") == settings for n in networks)


def stored_networks(store: RobustnessStore) -> list[str]:
    """The networks a previous evaluation found (clean top-1 is evaluated for every network)."""
    return sorted(store.evaluations.get("clean", {}))
