"""Numbers and counts as a reader expects them: "1 job" and "9 jobs", "8/255" rather than
0.03137254901960784, "0.1" rather than 0.1000000000000000055.

Used wherever the harness prints a value it did not type itself (a parameter of a job, a count of
things). Pure functions, no imports beyond the standard library, so the CLI can use them before
torch is imported.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

# Pixel-space budgets (attack radii, step sizes) are conventionally fractions of 255.
_PIXEL_DENOMINATOR = 255
_IRREGULAR = {"datum": "data", "cell": "cells", "this": "these", "is": "are", "was": "were"}


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`1 job`, `2 jobs`, `0 jobs`; `many` for irregular plurals (`plural(n, "index", "indices")`)."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {many or _IRREGULAR.get(noun) or _regular_plural(noun)}"


def _regular_plural(noun: str) -> str:
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def number(value: float, digits: int = 4) -> str:
    """A float as a person would write it: as typed when it is a short decimal (`0.1`, `5e-04`),
    `8/255` for a multiple of 1/255 (also when typed as 0.0313725), `0.999999` when six digits
    are what it has, otherwise rounded to `digits` significant digits."""
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    if float(f"{value:.{digits}g}") == value:
        return f"{value:g}"
    fraction = _pixel_fraction(value)
    if fraction is not None:
        return fraction
    if float(f"{value:g}") == value:
        return f"{value:g}"
    return f"{value:.{digits}g}"


def _pixel_fraction(value: float) -> str | None:
    """`8/255` when `value` is k/255 to six significant digits (in lowest terms, 2/3 not 170/255)."""
    scaled = value * _PIXEL_DENOMINATOR
    k = round(scaled)
    if k == 0 or abs(scaled - k) > 1e-5 * abs(scaled):
        return None
    fraction = Fraction(k, _PIXEL_DENOMINATOR)
    return None if fraction.denominator == 1 else f"{fraction.numerator}/{fraction.denominator}"


def value(item: Any) -> str:
    """Any parameter value: floats through `number`, sequences element-wise, the rest as str."""
    if isinstance(item, bool):
        return str(item).lower()
    if isinstance(item, float):
        return number(item)
    if isinstance(item, list | tuple):
        return "[" + ", ".join(value(v) for v in item) + "]"
    if isinstance(item, dict):
        return "{" + ", ".join(f"{k}: {value(v)}" for k, v in item.items()) + "}"
    return str(item)


def assignments(params: dict[str, Any]) -> str:
    """`alpha=1, eps=8/255, label=lambda`: a job's parameters on one line."""
    return ", ".join(f"{key}={value(v)}" for key, v in params.items())
