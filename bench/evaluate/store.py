"""A run folder's `robustness.json`: every evaluation of the run's networks, merged, never overwritten.

    {"run_id": <job id>, "version": 1,
     "evaluations": {<evaluator>: {<network>: {<numbers>..., "settings": {...}, "seconds": ...,
                                               "device": ..., "git_commit": ..., "torch": ...}}}}

Each evaluator's result is written atomically as soon as it is done, so a failure leaves
everything stored before it in place. An evaluation stored with the same settings for every
network is not redone unless forced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import results

STORE = "robustness.json"
STORE_VERSION = 1


def read_store(run_dir: Path) -> dict[str, Any]:
    return results.read_json(run_dir / STORE) or {}


def merge(run_dir: Path, job_id: str, evaluator: str, entries: dict[str, Any]) -> None:
    """Write `entries` (network -> record) for `evaluator`, keeping everything else stored."""
    store = read_store(run_dir)
    if store.get("run_id") != job_id:  # the folder was re-used by another job: start again
        store = {"run_id": job_id}
    store["version"] = STORE_VERSION
    store.setdefault("evaluations", {}).setdefault(evaluator, {}).update(entries)
    results.write_json(run_dir / STORE, store)


def is_stored(
    store: dict[str, Any], job_id: str, evaluator: str, networks: list[str], settings: dict[str, Any]
) -> bool:
    """`evaluator` is stored for this job with exactly these settings for every network."""
    if store.get("run_id") != job_id or not networks:
        return False
    entries = store.get("evaluations", {}).get(evaluator, {})
    return all(entries.get(n, {}).get("settings") == settings for n in networks)


def stored_networks(store: dict[str, Any]) -> list[str]:
    """The networks a previous evaluation found (clean top-1 is evaluated for every network)."""
    return sorted(store.get("evaluations", {}).get("clean", {}))
