"""`bench compare`: every cell of a suite against its published value, as a CI gate.

Each cell gets one state, decided in this order (the first that applies):

- failed: a seed's job failed, or its record does not hold up (a NaN, a torn curve);
- not run: a seed has not run yet;
- no published value: no published top-1 for this cell;
- not comparable: the runs are not the published experiment (`comparable.reasons`, each key named),
  or `--tolerance-se` was asked and the cell has one seed (no spread to scale by);
- regression: Δ = ours − published < −band;
- above: Δ > +band (better than published by more than the band: a two-sided check, reported
  separately, since a cell far above its published value is as suspect as one below);
- ok: |Δ| ≤ band.

The band is the fixed `tolerance`, plus `tolerance_se` × the standard error of Δ when asked:
s·√(1/n + 1), the mean of our n seeds against one published run, both with the seeds' spread s.

Exit codes: 0 when every cell was compared and is ok; 1 when a compared cell is outside the band
(regression or above); 3 when nothing is outside but the check is incomplete: a cell failed or
was not run, or no cell was compared at all. (2 is every command's code for a usage error.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from bench.report.collect import Cell

EXIT_OK, EXIT_OUTSIDE, EXIT_INCOMPLETE = 0, 1, 3


class State(str, Enum):
    OK = "ok"
    REGRESSION = "regression"
    ABOVE = "above"
    NOT_COMPARABLE = "not comparable"
    NO_PUBLISHED = "no published value"
    FAILED = "failed"
    NOT_RUN = "not run"


COMPARED = (State.OK, State.REGRESSION, State.ABOVE)
OUTSIDE = (State.REGRESSION, State.ABOVE)
INCOMPLETE = (State.FAILED, State.NOT_RUN)


@dataclass(frozen=True)
class Verdict:
    cell: Cell
    state: State
    detail: str = ""  # why (failed, not run, not comparable), or the band used
    delta: float | None = None
    band: float | None = None


def standard_error(cell: Cell) -> float | None:
    """The standard error of Δ = mean of n seeds − one published run: s·√(1/n + 1) (n ≥ 2)."""
    if cell.std is None:
        return None
    return cell.std * math.sqrt(1 / cell.n + 1)


def verdict(cell: Cell, tolerance: float, tolerance_se: float | None = None) -> Verdict:
    if cell.errors or cell.invalid:
        return Verdict(cell, State.FAILED, "; ".join([*cell.errors, *cell.invalid]))
    if cell.missing:
        return Verdict(cell, State.NOT_RUN, f"{len(cell.missing)} of {cell.expected} seeds not run")
    if cell.primary is None:
        return Verdict(cell, State.NO_PUBLISHED)
    reason = cell.not_comparable_reason
    if reason:
        return Verdict(cell, State.NOT_COMPARABLE, reason)
    band = tolerance
    if tolerance_se is not None:
        se = standard_error(cell)
        if se is None:
            return Verdict(cell, State.NOT_COMPARABLE, f"{cell.n} seed: no spread for --tolerance-se")
        band += tolerance_se * se
    delta = cell.delta
    if delta is None or not math.isfinite(delta):  # guarded by not_comparable_reason; never trust it
        return Verdict(cell, State.NOT_COMPARABLE, "no finite Δ")
    state = State.REGRESSION if delta < -band else State.ABOVE if delta > band else State.OK
    return Verdict(cell, state, f"band ±{band:.2f}", delta, band)


def compare(cells: list[Cell], tolerance: float, tolerance_se: float | None = None) -> list[Verdict]:
    """One verdict per cell, in the suite's order."""
    if tolerance < 0 or (tolerance_se is not None and tolerance_se < 0):
        raise ValueError("tolerances must be >= 0")
    return [verdict(c, tolerance, tolerance_se) for c in cells]


def exit_code(verdicts: list[Verdict]) -> int:
    states = [v.state for v in verdicts]
    if any(s in OUTSIDE for s in states):
        return EXIT_OUTSIDE
    if any(s in INCOMPLETE for s in states) or not any(s in COMPARED for s in states):
        return EXIT_INCOMPLETE
    return EXIT_OK


def summary(verdicts: list[Verdict]) -> str:
    """'3 ok, 1 regression, 0 above, 2 not comparable, ... → exit 1 (a cell outside the band)'."""
    counts = {s: sum(v.state is s for v in verdicts) for s in State}
    code = exit_code(verdicts)
    missing = ["failed or not-run cells"] if any(v.state in INCOMPLETE for v in verdicts) else []
    if not any(v.state in COMPARED for v in verdicts):
        missing.append("nothing compared")
    meaning = {
        EXIT_OK: "every compared cell within the band",
        EXIT_OUTSIDE: "a compared cell outside the band",
        EXIT_INCOMPLETE: "incomplete: " + "; ".join(missing),
    }[code]
    return ", ".join(f"{n} {s.value}" for s, n in counts.items()) + f" → exit {code} ({meaning})"
