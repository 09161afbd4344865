"""The published table: every number the harness compares with, one validated CSV.

`results/published/published.csv` has fixed columns (`COLUMNS`), one row per published value:

* where it belongs: `table` (e.g. "AdAutoMix Table 1", "OpenMixup Mixup_cifar.md"), `dataset`,
  `backbone`, `method` (registry names; a method, backbone or dataset the registry does not know
  keeps a normalised spelling, e.g. "samix", "deit_small"), `epochs` (the schedule; 0: not stated);
* what it is: `metric` (one of `METRICS`), `value` (a float, as printed), `reducer` (a
  `bench.reducers` name, or one of `PUBLISHED_ONLY_REDUCERS`), `network` ("online", "ema|ema_mix",
  ...; "unknown" when the source does not say);
* how far to trust it: `role` ("primary": the value of `table` itself; "secondary": another
  source's copy of the same cell that disagrees or that restates it), `source` (a citation),
  `locator` (file @ commit and line, or table, row and column inside the source), `verification`
  (what it was checked against, in clauses `found:`, `agrees:`, `differs:`, `paper:`, `log:`),
  `suite` (the paper suite whose cell states the conditions it was measured under; "" if none)
  and `notes`.

`load` rejects a malformed row with a `BenchError` naming the file, line, column and the valid
choices; nothing downstream re-parses the CSV.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from bench import reducers
from bench.errors import BenchError

FILE = "published.csv"
COLUMNS = (
    "table",
    "dataset",
    "backbone",
    "method",
    "epochs",
    "metric",
    "value",
    "reducer",
    "network",
    "role",
    "source",
    "locator",
    "verification",
    "suite",
    "notes",
)
METRICS = {
    "top1": "top-1 accuracy (%) on the clean test split",
    "top1_corruption": "top-1 accuracy (%) on a corrupted copy of the test split (CIFAR-100-C: 19 corruptions x 5 severities pooled)",
    "fgsm_error": "error (%) under a one-step FGSM attack (100 - top-1)",
    "fgsm_top1": "top-1 accuracy (%) under a one-step FGSM attack",
    "autoattack_top1": "top-1 accuracy (%) under AutoAttack",
    "params_m": "parameters of the classifier (millions)",
    "train_time_hours": "training time (hours) as the source measured it",
    "gpu_memory_gb": "peak GPU memory (GB) as the source measured it",
}
ROLES = ("primary", "secondary")
# The verification column is a list of clauses "<kind>: <text>" joined by "; ", in this vocabulary.
CHECKS = {
    "found": "the value was read at the locator (by script, from the source's snapshot)",
    "agrees": "other sources giving the same value for the same cell and statistic",
    "differs": "other sources giving another value for the same cell and statistic",
    "paper": "what it was checked against in the AdAutoMix paper (or why it was not)",
    "log": "what the released training log of the cell gives (bench.published.logs)",
}
_CLAUSE = re.compile(r";\s*(?=(?:" + "|".join(CHECKS) + r"):)")
# Statistics a source used that no run folder can reproduce (several runs, or not stated).
PUBLISHED_ONLY_REDUCERS = ("unknown", "mean_best_3runs")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.]*$")
_NETWORK = re.compile(r"^[a-z_]+(\|[a-z_]+)*$")
_SUITE = re.compile(r"^([a-z0-9_]+)?$")


@dataclass(frozen=True)
class PublishedRow:
    table: str
    dataset: str
    backbone: str
    method: str
    epochs: int
    metric: str
    value: float
    reducer: str
    network: str
    role: str
    source: str
    locator: str
    verification: str
    suite: str
    notes: str

    @property
    def checks(self) -> dict[str, str]:
        """The verification clauses by kind ('found', 'agrees', 'differs', 'paper', 'log')."""
        return dict(_split_check(clause) for clause in _CLAUSE.split(self.verification))

    @property
    def cell(self) -> tuple[str, str, str, int]:
        """(dataset, backbone, method, epochs): the suite cell this row is a value of."""
        return (self.dataset, self.backbone, self.method, self.epochs)


def _split_check(clause: str) -> tuple[str, str]:
    kind, _, text = clause.partition(":")
    return kind.strip(), text.strip()


def _verification(path: Path, line: int, text: str) -> str:
    for clause in _CLAUSE.split(text):
        kind, body = _split_check(clause)
        if kind not in CHECKS or not body:
            raise _fail(
                path,
                line,
                "verification",
                f"clause {clause[:40]!r} is not '<kind>: <text>'; kinds: {', '.join(CHECKS)}",
            )
    return text


def _fail(path: Path, line: int, column: str, message: str) -> BenchError:
    return BenchError(f"{path}: line {line}: column {column!r}: {message}")


def _text(path: Path, line: int, raw: dict[str, str], column: str, *, required: bool = True) -> str:
    value = (raw.get(column) or "").strip()
    if required and not value:
        raise _fail(path, line, column, "empty (every row states it)")
    return value


def _choice(path: Path, line: int, column: str, value: str, valid: Iterable[str]) -> str:
    valid = list(valid)
    if value not in valid:
        raise _fail(path, line, column, f"{value!r} is not valid; valid: {', '.join(valid)}")
    return value


def _pattern(path: Path, line: int, column: str, value: str, pattern: re.Pattern[str], form: str) -> str:
    if not pattern.match(value):
        raise _fail(path, line, column, f"{value!r} is not valid; valid: {form}")
    return value


def _reducer(path: Path, line: int, value: str) -> str:
    if value in PUBLISHED_ONLY_REDUCERS:
        return value
    try:
        return reducers.check(value)
    except ValueError as exc:
        raise _fail(path, line, "reducer", f"{exc}; or one of {', '.join(PUBLISHED_ONLY_REDUCERS)}") from None


def parse_row(path: Path, line: int, raw: dict[str, str]) -> PublishedRow:
    """One CSV record as a validated row (BenchError naming the file, line and column)."""
    name_form = "lowercase letters, digits, '_' and '.' (a registry name or a normalised spelling)"
    names = {
        c: _pattern(path, line, c, _text(path, line, raw, c), _NAME, name_form)
        for c in ("dataset", "backbone", "method")
    }
    epochs_text = _text(path, line, raw, "epochs")
    if not epochs_text.isdigit():
        raise _fail(
            path, line, "epochs", f"{epochs_text!r} is not valid; valid: an integer >= 0 (0: not stated)"
        )
    value_text = _text(path, line, raw, "value")
    try:
        value = float(value_text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise _fail(path, line, "value", f"{value_text!r} is not valid; valid: a finite number as printed")
    network = _pattern(
        path,
        line,
        "network",
        _text(path, line, raw, "network"),
        _NETWORK,
        "'online', 'ema|ema_mix', 'unknown', ...",
    )
    suite = _pattern(
        path, line, "suite", _text(path, line, raw, "suite", required=False), _SUITE, "'' or a suite name"
    )
    return PublishedRow(
        table=_text(path, line, raw, "table"),
        **names,
        epochs=int(epochs_text),
        metric=_choice(path, line, "metric", _text(path, line, raw, "metric"), METRICS),
        value=value,
        reducer=_reducer(path, line, _text(path, line, raw, "reducer")),
        network=network,
        role=_choice(path, line, "role", _text(path, line, raw, "role"), ROLES),
        source=_text(path, line, raw, "source"),
        locator=_text(path, line, raw, "locator"),
        verification=_verification(path, line, _text(path, line, raw, "verification")),
        suite=suite,
        notes=_text(path, line, raw, "notes", required=False),
    )


def _check_primaries(path: Path, rows: list[tuple[int, PublishedRow]]) -> None:
    """At most one primary value per (table, cell, metric): a table prints one number per cell."""
    seen: dict[tuple, int] = {}
    for line, row in rows:
        if row.role != "primary":
            continue
        key = (row.table, *row.cell, row.metric)
        if key in seen:
            raise _fail(
                path,
                line,
                "role",
                f"a second primary row for {key} (the first is line {seen[key]}); mark one secondary",
            )
        seen[key] = line


def read(path: Path) -> list[PublishedRow]:
    """Every row of one published CSV, validated."""
    if not path.is_file():
        raise BenchError(f"{path}: no such published table (expected the columns {', '.join(COLUMNS)})")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = tuple(reader.fieldnames or ())
        if header != COLUMNS:
            missing = [c for c in COLUMNS if c not in header]
            extra = [c for c in header if c not in COLUMNS]
            detail = "; ".join(
                part
                for part in (
                    f"missing {', '.join(missing)}" if missing else "",
                    f"unknown {', '.join(extra)}" if extra else "",
                    "columns out of order" if not missing and not extra else "",
                )
                if part
            )
            raise BenchError(f"{path}: line 1: header: {detail}; valid: {','.join(COLUMNS)}")
        rows = []
        for raw in reader:
            line = reader.line_num
            if None in raw:
                raise _fail(
                    path, line, "notes", "more fields than columns (quote fields that contain commas)"
                )
            rows.append((line, parse_row(path, line, raw)))
    _check_primaries(path, rows)
    return [row for _, row in rows]


def load(folder: Path) -> list[PublishedRow]:
    """The published table in `folder` (its `published.csv`), validated, in file order; [] when
    the folder has none (a project without published values)."""
    path = Path(folder) / FILE
    if not path.exists():
        others = sorted(p.name for p in Path(folder).glob("*.csv"))
        if others:
            raise BenchError(
                f"{folder}: no {FILE}, but {', '.join(others)}: published values now live in one table, "
                f"{FILE}, with the columns {','.join(COLUMNS)}"
            )
        return []
    return read(path)


def to_csv(rows: Iterable[PublishedRow]) -> str:
    """The CSV text of `rows` (the format `read` accepts)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        record = list(astuple(row))
        record[COLUMNS.index("value")] = _number(row.value)
        writer.writerow(record)
    return buffer.getvalue()


def _number(value: float) -> str:
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


assert tuple(f.name for f in fields(PublishedRow)) == COLUMNS  # the dataclass is the header
