"""bench.text: counts and numbers as a reader expects them."""

from __future__ import annotations

import pytest

from bench.text import assignments, number, plural


@pytest.mark.parametrize(
    ("count", "noun", "expected"),
    [(1, "job", "1 job"), (0, "job", "0 jobs"), (2, "backbone", "2 backbones"), (3, "class", "3 classes")],
)
def test_plural(count: int, noun: str, expected: str) -> None:
    assert plural(count, noun) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (8 / 255, "8/255"),
        (0.0313725, "8/255"),  # 8/255 as a suite writes it, to six digits
        (2 / 255, "2/255"),
        (0.1, "0.1"),
        (0.2, "0.2"),  # 51/255, but typed as 0.2
        (1.0, "1"),
        (0.999999, "0.999999"),  # within 1e-5 of 255/255, but a plain decimal
        (5e-4, "0.0005"),
        (0.123456789, "0.1235"),
        (2 / 3, "2/3"),
    ],
)
def test_number(value: float, expected: str) -> None:
    assert number(value) == expected


def test_assignments() -> None:
    assert assignments({"alpha": 1.0, "eps": 8 / 255, "layers": [0, 1], "random": True}) == (
        "alpha=1, eps=8/255, layers=[0, 1], random=true"
    )
