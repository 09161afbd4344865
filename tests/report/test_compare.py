"""`bench compare`'s verdicts: every state, the band, every exit code, on fixed cells."""

from __future__ import annotations

import math

import pytest

from bench.report.compare import (
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_OUTSIDE,
    State,
    compare,
    exit_code,
    standard_error,
    summary,
    verdict,
)
from tests.fixtures.cells import cell, pub


def ok_cell(values=(78.0, 78.2, 78.1), published=78.0, **kw):
    return cell("mixup", "cifar100", "resnet18", list(values), [pub(published, "Paper")], **kw)


@pytest.mark.parametrize(
    ("made", "state", "detail"),
    [
        (lambda: ok_cell(), State.OK, "band ±1.00"),
        (lambda: ok_cell(published=80.0), State.REGRESSION, "band ±1.00"),
        (lambda: ok_cell(published=76.0), State.ABOVE, "band ±1.00"),
        (
            lambda: ok_cell(values=[78.0, 78.2], errors=["seed 2: loss became nan"]),
            State.FAILED,
            "seed 2: loss became nan",
        ),
        (
            lambda: ok_cell(values=[78.0, 78.2], invalid=["seed 2: top-1 of online is nan at epoch 9"]),
            State.FAILED,
            "seed 2: top-1",
        ),
        (lambda: ok_cell(values=[78.0], missing=[1, 2]), State.NOT_RUN, "2 of 3 seeds not run"),
        (lambda: ok_cell(values=[], missing=[0, 1, 2]), State.NOT_RUN, "3 of 3 seeds not run"),
        (lambda: cell("mixup", "cifar100", "resnet18", [78.0, 78.1]), State.NO_PUBLISHED, ""),
        (lambda: ok_cell(scale=0.5), State.NOT_COMPARABLE, "reduced scale ×0.5"),
        (
            lambda: ok_cell(partial_data="5,000 of 50,000 train images"),
            State.NOT_COMPARABLE,
            "the data on disk",
        ),
        (
            lambda: cell(
                "mixup", "cifar100", "resnet18", [78.0, 78.1, 78.2], [pub(78.0, "P", "best_last10")]
            ),
            State.NOT_COMPARABLE,
            "reducer median_last10 ≠ best_last10",
        ),
    ],
)
def test_every_state(made, state: State, detail: str) -> None:
    v = verdict(made(), tolerance=1.0)
    assert v.state is state and v.detail.startswith(detail), v


def test_a_failure_or_a_missing_seed_wins_over_a_good_mean() -> None:
    # two good seeds within the band cannot hide a failed third
    v = verdict(ok_cell(values=[78.0, 78.1], errors=["seed 2: CUDA out of memory"]), tolerance=5.0)
    assert v.state is State.FAILED and v.delta is None


def test_the_band_grows_with_the_standard_error_of_delta() -> None:
    c = ok_cell(values=[77.0, 78.0, 79.0], published=79.8)  # mean 78, s 1, Δ -1.8
    assert standard_error(c) == pytest.approx(math.sqrt(1 / 3 + 1))
    assert verdict(c, 1.0).state is State.REGRESSION
    widened = verdict(c, 1.0, tolerance_se=1.0)
    assert widened.state is State.OK and widened.band == pytest.approx(1 + math.sqrt(4 / 3))
    # one seed: no spread to scale by, so it is not held to the band as if it had three
    single = verdict(cell("mixup", "cifar100", "resnet18", [78.0], [pub(78.0, "P")], seeds=[0]), 1.0, 1.0)
    assert single.state is State.NOT_COMPARABLE and "no spread" in single.detail


def test_exit_codes() -> None:
    ok = verdict(ok_cell(), 1.0)
    low = verdict(ok_cell(published=80.0), 1.0)
    high = verdict(ok_cell(published=76.0), 1.0)
    failed = verdict(ok_cell(values=[78.0], errors=["seed 1: x", "seed 2: y"]), 1.0)
    not_run = verdict(ok_cell(values=[], missing=[0, 1, 2]), 1.0)
    nc = verdict(ok_cell(scale=0.5), 1.0)
    none = verdict(cell("mixup", "cifar100", "resnet18", [78.0]), 1.0)
    assert exit_code([ok]) == exit_code([ok, nc, none]) == EXIT_OK == 0
    assert exit_code([ok, low]) == exit_code([ok, high]) == exit_code([low, failed]) == EXIT_OUTSIDE == 1
    assert exit_code([ok, failed]) == exit_code([ok, not_run]) == EXIT_INCOMPLETE == 3
    assert exit_code([nc, none]) == exit_code([]) == EXIT_INCOMPLETE  # nothing compared is not a pass
    assert summary([ok, nc]) == (
        "1 ok, 0 regression, 0 above, 1 not comparable, 0 no published value, 0 failed, 0 not run "
        "→ exit 0 (every compared cell within the band)"
    )
    assert summary([nc]).endswith("→ exit 3 (incomplete: nothing compared)")
    assert summary([ok, failed]).endswith("→ exit 3 (incomplete: failed or not-run cells)")
    assert summary([not_run]).endswith("→ exit 3 (incomplete: failed or not-run cells; nothing compared)")


def test_negative_tolerances_are_refused() -> None:
    with pytest.raises(ValueError):
        compare([ok_cell()], -1.0)
    with pytest.raises(ValueError):
        compare([ok_cell()], 1.0, -0.5)
