"""ECE on cases whose value is known by hand, the bin boundaries, and the reliability diagram."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bench.evaluate.calibration import adautomix_sorted_ece, calibration, reliability_diagram


def t(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def test_a_perfectly_calibrated_model_has_zero_ece() -> None:
    # 0.75 four times with 3 right; 0.5 twice with 1 right; 1.0 once and right
    conf = t([0.75] * 4 + [0.5] * 2 + [1.0])
    hit = t([1, 1, 1, 0, 1, 0, 1])
    cal = calibration(conf, hit, 15)
    assert cal.ece == pytest.approx(0.0, abs=1e-12)
    assert cal.n == 7 and sum(b.count for b in cal.bins) == 7


def test_an_over_confident_model_has_its_hand_computed_ece() -> None:
    # bin of 0.95: 5 samples, 3 right -> gap +0.35; bin of 0.55: 5 samples, 3 right -> gap -0.05
    # ECE = 0.5·0.35 + 0.5·0.05 = 0.20 -> 20%, of which 17.5 over-confident and 2.5 under-confident
    conf = t([0.95] * 5 + [0.55] * 5)
    hit = t([1, 1, 1, 0, 0] * 2)
    cal = calibration(conf, hit, 15)
    assert cal.ece == pytest.approx(20.0)
    assert cal.overconfidence == pytest.approx(17.5)
    assert cal.underconfidence == pytest.approx(2.5)
    full = [b for b in cal.bins if b.count]
    assert [(b.count, b.accuracy, b.confidence) for b in full] == [
        (5, pytest.approx(60.0), pytest.approx(55.0)),
        (5, pytest.approx(60.0), pytest.approx(95.0)),
    ]


def test_a_constant_confidence_model_has_ece_equal_to_its_gap() -> None:
    cal = calibration(t([0.9] * 10), t([1] * 6 + [0] * 4), 15)
    assert cal.ece == pytest.approx(30.0) and cal.overconfidence == pytest.approx(30.0)


def test_bins_are_equal_width_and_right_closed() -> None:
    cal = calibration(t([3 / 15, 0.0, 1.0, 3 / 15 + 1e-9]), t([1, 1, 1, 1]), 15)
    counts = {round(b.upper * 15): b.count for b in cal.bins}
    assert counts[3] == 1  # 3/15 belongs to (2/15, 3/15]
    assert counts[4] == 1  # just above 3/15 is in the next bin
    assert counts[1] == 1  # 0 lands in the first bin
    assert counts[15] == 1
    assert [b.upper - b.lower for b in cal.bins] == pytest.approx([1 / 15] * 15)


def test_an_under_confident_model_is_not_scored_calibrated() -> None:
    """The sorted-bins variant in the AdAutoMix code can score this 0; the standard ECE does not."""
    conf = t([0.35] * 10 + [0.45] * 10)
    hit = t([1] * 9 + [0] + [1] * 10)
    cal = calibration(conf, hit, 15)
    assert cal.ece == pytest.approx(0.5 * (90 - 35) + 0.5 * (100 - 45))
    assert cal.underconfidence == pytest.approx(cal.ece) and cal.overconfidence == 0


def test_reliability_diagram_is_a_png(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(0)
    conf = torch.rand(500, generator=g) * 0.9 + 0.1
    hit = (torch.rand(500, generator=g) < conf * 0.8).double()
    cals = {"online": calibration(conf, hit), "ema": calibration(conf.sqrt(), hit)}
    path = tmp_path / "reliability.png"
    reliability_diagram(cals, path, "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_the_adautomix_sorted_variant_can_call_a_badly_calibrated_model_perfect() -> None:
    # 20 answers at confidence 0.15 of which 19 right, 20 at 0.95 of which 3 right: ECE 80%, but
    # sorting the bin accuracies (0.15, 0.95) and confidences (0.15, 0.95) apart pairs them equal
    conf = t([0.15] * 20 + [0.95] * 20)
    hit = t([1] * 19 + [0] + [1] * 3 + [0] * 17)
    assert calibration(conf, hit, 10).ece == pytest.approx(80.0)
    assert adautomix_sorted_ece(conf, hit, 10) == pytest.approx(0.0, abs=1e-12)


def test_the_adautomix_sorted_variant_follows_its_loop_on_random_predictions() -> None:
    """A loop in the shape of the released ece_score: bins (a, b], accuracy and confidence per
    bin, both sorted, weighted by the unsorted counts."""
    gen = torch.Generator().manual_seed(0)
    conf = torch.rand(500, generator=gen, dtype=torch.float64) * 0.9 + 0.1
    hit = (torch.rand(500, generator=gen, dtype=torch.float64) < conf**2).double()
    n_bins = 10
    count, acc, mean = [0] * n_bins, [0.0] * n_bins, [0.0] * n_bins
    for m in range(n_bins):
        a, b = m / n_bins, (m + 1) / n_bins
        for c, h in zip(conf.tolist(), hit.tolist()):
            if a < c <= b:
                count[m] += 1
                acc[m] += h
                mean[m] += c
        if count[m]:
            acc[m], mean[m] = acc[m] / count[m], mean[m] / count[m]
    acc, mean = sorted(acc), sorted(mean)
    expected = 100 * sum(count[m] * abs(acc[m] - mean[m]) for m in range(n_bins)) / sum(count)
    assert adautomix_sorted_ece(conf, hit, n_bins) == pytest.approx(expected)
