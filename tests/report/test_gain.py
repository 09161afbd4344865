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


def test_gain_per_column_on_the_golden_cells() -> None:
    first, second, third = gains(paper_cells())
    # CIFAR-100 ResNet-18: AdAutoMix 81.37 (81.0, 81.6, 81.5) vs MixUp 80.00 (79.9, 80.1, 80.0)
    assert first.versus == "mixup" and first.value == pytest.approx(1.37)
    # per-seed differences 1.1, 1.5, 1.5: mean 1.3667, sd 0.23094, se 0.13333
    half = T_975_2DF * 0.23094011 / math.sqrt(3)
    assert first.n == 3 and first.interval == pytest.approx((4.1 / 3 - half, 4.1 / 3 + half), abs=1e-6)
    assert first.published == pytest.approx(82.32 - 79.12) and first.published_versus == "mixup"
    # ResNeXt-50: a tie 82.20 = 82.20; differences 0.1, -0.1, 0.0: sd 0.1
    assert second.value == 0.0 and str(second.value) == "0.0"
    assert second.interval == pytest.approx((-T_975_2DF * 0.1 / math.sqrt(3), T_975_2DF * 0.1 / math.sqrt(3)))
    # the published best other is MixUp's 82.10 even though ours is not comparable with it
    assert second.published == pytest.approx(84.22 - 82.10)
    # CIFAR-10: AdAutoMix ran seeds 0 and 1, CutMix 0, 1 and 2; MixUp did not run
    assert third.versus == "cutmix" and third.value == pytest.approx(97.10 - 96.40)
    assert third.interval is None and third.no_interval == "the two rows have different seeds"
    assert third.published is None  # no published AdAutoMix value there


def test_no_adautomix_row_means_no_gain_row() -> None:
    assert gains([c for c in paper_cells() if c.method != "adautomix"]) is None


def test_variants_of_adautomix_are_not_competitors_and_few_seeds_give_no_interval() -> None:
    cells = [
        cell("mixup", "cifar100", "resnet18", [80.0, 80.2]),
        cell("adautomix", "cifar100", "resnet18", [81.0, 81.4]),
        cell("adautomix", "cifar100", "resnet18", [90.0, 90.0]),
    ]
    cells[2].method = "adautomix_beta05"  # a labelled variant of the same method
    (g,) = gains(cells)
    assert g.versus == "mixup" and g.value == pytest.approx(1.1)
    assert g.interval is None and g.no_interval == "fewer than 3 seeds"
