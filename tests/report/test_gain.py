"""The Gain row and its interval, on values computed by hand."""

from __future__ import annotations

import math

import pytest

from bench.report.gain import gains, paired_t_interval
from tests.fixtures.cells import cell, paper_cells

T_975_2DF = 4.302652729749464  # Student t quantile 0.975 with 2 degrees of freedom (tables: 4.303)


def test_paired_t_interval_by_hand() -> None:
    # differences 1, 2, 3: mean 2, sd 1, se 1/sqrt(3)
    low, high = paired_t_interval([1.0, 2.0, 3.0])
    half = T_975_2DF / math.sqrt(3)
    assert low == pytest.approx(2 - half) and high == pytest.approx(2 + half)
    assert (round(low, 4), round(high, 4)) == (-0.4841, 4.4841)
    assert paired_t_interval([0.5, 0.5, 0.5]) == (0.5, 0.5)  # no spread, no width
    with pytest.raises(ValueError, match="at least 2"):
        paired_t_interval([1.0])


def complete_first_column() -> list:
    """The golden cells with CutMix's third seed valid and AdAutoMix reduced like the other rows
    in the CIFAR-100 ResNet-18 column."""
    cells = paper_cells()
    first = [c for c in cells if (c.dataset, c.backbone) == ("cifar100", "resnet18")]
    cutmix, adautomix = first[2], first[3]
    cutmix.errors, cutmix.values, cutmix.seeds = [], [78.5, 78.9, 78.7], [0, 1, 2]
    adautomix.reducer = "median_last10"
    return cells


def test_gain_per_column_on_the_golden_cells() -> None:
    first, second, third = gains(paper_cells())
    # CIFAR-100 ResNet-18: CutMix's seed 2 failed, so the best other is unknown: no Gain
    assert first.value is None and first.refused == "incomplete rows: CutMix 1 of 3 seeds failed"
    assert first.published == pytest.approx(82.32 - 79.12) and first.published_versus == "mixup"
    # ResNeXt-50: a tie 82.20 = 82.20; differences 0.1, -0.1, 0.0: sd 0.1
    assert second.value == 0.0 and str(second.value) == "0.0" and not second.refused
    assert second.interval == pytest.approx((-T_975_2DF * 0.1 / math.sqrt(3), T_975_2DF * 0.1 / math.sqrt(3)))
    # the published best other is MixUp's 82.10 even though ours is not comparable with it
    assert second.published == pytest.approx(84.22 - 82.10)
    # CIFAR-10: MixUp did not run, AdAutoMix ran 2 of its 3 seeds
    assert third.value is None
    assert third.refused == "incomplete rows: MixUp 3 of 3 seeds not run; AdAutoMix 1 of 3 seeds not run"
    assert third.published is None  # no published AdAutoMix value there


def test_gain_and_its_interval_by_hand_on_complete_rows() -> None:
    first = gains(complete_first_column())[0]
    # CIFAR-100 ResNet-18: AdAutoMix 81.37 (81.0, 81.6, 81.5) vs MixUp 80.00 (79.9, 80.1, 80.0)
    assert first.versus == "mixup" and first.value == pytest.approx(1.37) and not first.refused
    # per-seed differences 1.1, 1.5, 1.5: mean 1.3667, sd 0.23094, se 0.13333
    half = T_975_2DF * 0.23094011 / math.sqrt(3)
    assert first.n == 3 and first.interval == pytest.approx((4.1 / 3 - half, 4.1 / 3 + half), abs=1e-6)


def test_a_failed_best_competitor_refuses_the_gain_instead_of_using_the_next_one() -> None:
    cells = [
        cell("mixup", "cifar100", "resnet18", [80.0, 80.2, 80.1]),
        cell("cutmix", "cifar100", "resnet18", [81.0, 81.2], errors=["seed 2: loss became nan in epoch 9"]),
        cell("adautomix", "cifar100", "resnet18", [84.3, 84.4, 84.5], reducer="median_last10"),
    ]
    (g,) = gains(cells)
    assert g.value is None and g.versus is None and g.interval is None
    assert g.refused == "incomplete rows: CutMix 1 of 3 seeds failed"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            dict(invalid=["seed 2: top-1 of online is nan at epoch 800"]),
            "incomplete rows: MixUp seed 2: top-1",
        ),
        (dict(missing=[2]), "incomplete rows: MixUp 1 of 3 seeds not run"),
        (dict(seeds=(0, 1, 3)), "rows have other seeds: MixUp 0, 1, 3; AdAutoMix 0, 1, 2"),
        (
            dict(reducer="best_last10"),
            "rows reduced differently: best_last10 (MixUp); median_last10 (AdAutoMix)",
        ),
    ],
)
def test_every_refusal_names_its_reason(change: dict, reason: str) -> None:
    values = [80.0, 80.2] if "invalid" in change or "missing" in change else [80.0, 80.2, 80.1]
    cells = [
        cell("mixup", "cifar100", "resnet18", values, **change),
        cell("adautomix", "cifar100", "resnet18", [84.3, 84.4, 84.5], reducer="median_last10"),
    ]
    (g,) = gains(cells)
    assert g.value is None and g.refused.startswith(reason), g.refused


def test_no_adautomix_row_means_no_gain_row() -> None:
    assert gains([c for c in paper_cells() if c.method != "adautomix"]) is None


def test_variants_of_adautomix_are_not_competitors_and_few_seeds_give_no_interval() -> None:
    cells = [
        cell("mixup", "cifar100", "resnet18", [80.0, 80.2]),
        cell("adautomix", "cifar100", "resnet18", [81.0, 81.4], reducer="median_last10"),
        cell("adautomix", "cifar100", "resnet18", [90.0, 90.0], reducer="median_last10"),
    ]
    cells[2].method = "adautomix_beta05"  # a labelled variant of the same method
    (g,) = gains(cells)
    assert g.versus == "mixup" and g.value == pytest.approx(1.1)
    assert g.interval is None and g.no_interval == "fewer than 3 seeds"
