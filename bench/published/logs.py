"""Released training logs: parsed from OpenMixup's files, shipped as per-epoch curves, reduced like ours.

OpenMixup writes two logs per run: `<time>.log.json` (one JSON record per line; the first holds
`config`, the run's resolved config as Python source; `"mode": "val"` records hold every head's
top-1 after an epoch) and a text `<time>.log` (the config after "Config:", then lines
"Epoch(val) [E][i]  key: value, ..."). `read_log` parses either into a `ReleasedLog`: the suite cell
it trained, the hyper-parameters its header states (`bench.published.logconfig`), and the curve of
every network under our names (OpenMixup's head keys below).

The repository ships the curves, not the raw logs: `results/published/logs/*.json`, one compact
file per log that cites the file and commit it came from (`write_curves`, `load_logs`). `reduce_log`
applies a reducer to a log exactly as to a run of ours, so a released log stands beside the
published value it produced.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import reducers, safe_io
from bench.errors import BenchError
from bench.published import logconfig

# OpenMixup's top-1 keys -> our network names (bench.methods.learned: q = online, k = EMA teacher)
HEADS = {
    "head0_top1": "online",
    "acc_one_q_top1": "online",
    "acc_mix_q_top1": "online_mix",
    "acc_one_k_top1": "ema",
    "acc_mix_k_top1": "ema_mix",
}
LOGS_DIR = Path("results") / "published" / "logs"
_VAL = re.compile(r"Epoch\(val\) \[(\d+)\]\[\d+\]\s+(.*)$")
_TEXT_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ - \S+ - [A-Z]+ - ")


@dataclass(frozen=True)
class ReleasedLog:
    dataset: str
    backbone: str
    method: str
    epochs: int
    curves: dict[str, list[tuple[int, float]]]  # network -> (epoch, top-1) of every evaluation
    config: dict[str, Any]  # the hyper-parameters its header states (bench.published.logconfig)
    file: str  # the log's path inside its source (e.g. experiments/CIFAR100/adautomix_r18_800e.json)
    source: str  # where it was read: repository and commit, or the folder it was imported from
    commit: str = ""
    notes: str = ""

    @property
    def cell(self) -> tuple[str, str, str, int]:
        return (self.dataset, self.backbone, self.method, self.epochs)

    def reduce(self, reducer: str, network: str) -> tuple[float, str]:
        """(value, network used): `reducer` of `network` ('ema|ema_mix': the larger), as for our runs."""
        return reducers.reduce_networks(self.curves, network, reducer, epochs=self.epochs)

    def at_epoch(self, network: str, epoch: int) -> float | None:
        """The larger top-1 of `network`'s alternatives at `epoch`, None if it was not evaluated."""
        values = [v for n in network.split("|") for e, v in self.curves.get(n, []) if e == epoch]
        return max(values) if values else None


def _curves(records: Iterable[dict[str, Any]], where: str) -> dict[str, list[tuple[int, float]]]:
    curves: dict[str, list[tuple[int, float]]] = {}
    for record in records:
        epoch = int(record["epoch"])
        for key, network in HEADS.items():
            if key in record:
                curves.setdefault(network, []).append((epoch, float(record[key])))
    if not curves:
        raise BenchError(f"{where}: no validation records with top-1 ({', '.join(HEADS)})")
    for network, curve in curves.items():
        epochs = [e for e, _ in curve]
        if epochs != sorted(set(epochs)):
            raise BenchError(f"{where}: {network}: epochs repeat or go back (a resumed or concatenated log?)")
    return curves


def parse_json_log(text: str, where: str) -> tuple[str, dict[str, list[tuple[int, float]]]]:
    """(config source, curves) of a `.log.json`."""
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise BenchError(f"{where}: line {number}: not JSON ({exc.msg})") from None
    header = next((r for r in records if "config" in r), None)
    if header is None:
        raise BenchError(f"{where}: no record with 'config' (OpenMixup writes it on the first line)")
    return str(header["config"]), _curves((r for r in records if r.get("mode") == "val"), where)


def parse_text_log(text: str, where: str) -> tuple[str, dict[str, list[tuple[int, float]]]]:
    """(config source, curves) of a text `.log`."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.rstrip().endswith(" - Config:")), None)
    if start is None:
        raise BenchError(f"{where}: no 'Config:' section (OpenMixup logs the config at the start)")
    end = next((i for i in range(start + 1, len(lines)) if _TEXT_RECORD.match(lines[i])), len(lines))
    records = []
    for line in lines[end:]:
        match = _VAL.search(line)
        if match:
            fields = dict(item.split(": ", 1) for item in match.group(2).split(", ") if ": " in item)
            records.append({"epoch": match.group(1), **{k: float(v) for k, v in fields.items()}})
    return "\n".join(lines[start + 1 : end]), _curves(records, where)


def read_log(path: Path, *, file: str | None = None, source: str = "", commit: str = "") -> ReleasedLog:
    """Parse one OpenMixup log (`.json`/`.log.json` or text `.log`)."""
    where = str(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    parse = parse_json_log if path.suffix == ".json" else parse_text_log
    config_source, curves = parse(text, where)
    config = logconfig.evaluate(config_source, f"{where}: config")
    dataset, backbone, method, epochs = logconfig.cell(config)
    return ReleasedLog(
        dataset=dataset,
        backbone=backbone,
        method=method,
        epochs=epochs,
        curves=curves,
        config=logconfig.hyperparameters(config),
        file=file or path.name,
        source=source or str(path.parent),
        commit=commit,
    )


def curves_name(file: str) -> str:
    """The shipped curve file's name for a log path: its path with '/' as '__', plus .json."""
    return re.sub(r"[^A-Za-z0-9._-]+", "__", file.strip("/")) + ".json"


def to_record(log: ReleasedLog) -> dict[str, Any]:
    """The compact, citable form of a log: its cell, header and curves (no raw records)."""
    epochs = sorted({e for curve in log.curves.values() for e, _ in curve})
    top1 = {}
    for network, curve in log.curves.items():
        by_epoch = dict(curve)
        top1[network] = [by_epoch.get(e) for e in epochs]
    return {
        "file": log.file,
        "source": log.source,
        "commit": log.commit,
        "dataset": log.dataset,
        "backbone": log.backbone,
        "method": log.method,
        "epochs": log.epochs,
        "config": log.config,
        "notes": log.notes,
        "evaluated_epochs": epochs,
        "top1": top1,
    }


def from_record(record: dict[str, Any], where: str) -> ReleasedLog:
    try:
        epochs = record["evaluated_epochs"]
        curves = {
            network: [(int(e), float(v)) for e, v in zip(epochs, values, strict=True) if v is not None]
            for network, values in record["top1"].items()
        }
        return ReleasedLog(
            dataset=record["dataset"],
            backbone=record["backbone"],
            method=record["method"],
            epochs=int(record["epochs"]),
            curves=curves,
            config=dict(record["config"]),
            file=record["file"],
            source=record["source"],
            commit=record.get("commit", ""),
            notes=record.get("notes", ""),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BenchError(f"{where}: not a released-log curve file ({type(exc).__name__}: {exc})") from None


def write_curves(log: ReleasedLog, folder: Path) -> Path:
    """Write the log's curve file into `folder` (atomically); returns its path."""
    path = Path(folder) / curves_name(log.file)
    safe_io.write_text(path, json.dumps(to_record(log), separators=(",", ":")) + "\n")
    return path


def load_logs(folder: Path) -> list[ReleasedLog]:
    """Every shipped curve file in `folder` (default layout: results/published/logs), by file name."""
    out = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise BenchError(f"{path}: not JSON ({exc.msg}, line {exc.lineno})") from None
        out.append(from_record(record, str(path)))
    return out


def for_cell(logs: Iterable[ReleasedLog], cell: tuple[str, str, str, int]) -> list[ReleasedLog]:
    """The logs that trained `cell` (dataset, backbone, method, epochs)."""
    return [log for log in logs if log.cell == cell]


def reduce_for_cell(
    logs: Iterable[ReleasedLog], cell: tuple[str, str, str, int], reducer: str, network: str
) -> list[tuple[ReleasedLog, float, str]]:
    """(log, value, network used) for every log of `cell`, reduced with the cell's reducer and network.

    A log that lacks the network (a single-head baseline asked for 'ema') is left out.
    """
    out = []
    for log in for_cell(logs, cell):
        try:
            value, used = log.reduce(reducer, network)
        except (KeyError, ValueError):
            continue
        out.append((log, value, used))
    return out
