"""The measuring primitives every benchmark shares (their structure; no timing is asserted)."""

from __future__ import annotations

import pytest
import torch

from bench.perf import timing

CPU = torch.device("cpu")


def test_summary_is_the_median_and_interquartile_range() -> None:
    s = timing.Summary.of([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (s.median, s.n) == (3.0, 5) and s.iqr > 0
    assert timing.Summary.of([2.0]) == timing.Summary(2.0, 0.0, 1)
    with pytest.raises(ValueError):
        timing.Summary.of([])


def test_rounds_time_every_item_after_warmup_in_rotated_order_and_drop_failures() -> None:
    calls: list[str] = []

    def item(name: str):
        return lambda: calls.append(name)

    def broken() -> None:
        calls.append("broken")
        raise RuntimeError("no")

    times, errors = timing.rounds({"a": item("a"), "b": item("b"), "x": broken}, CPU, warmup=1, repeats=2)
    assert calls == ["a", "b", "broken", "b", "a", "a", "b"]  # x fails in round 1 and is dropped
    assert set(times) == {"a", "b"} and all(len(v) == 2 and min(v) >= 0 for v in times.values())
    assert isinstance(errors["x"], RuntimeError)
    with pytest.raises(RuntimeError):
        timing.repeated(broken, CPU, 0, 1)


def test_block_rates_count_the_images_of_each_block() -> None:
    batches = iter([(torch.zeros(4), torch.zeros(4))] * 20)
    seen: list[int] = []
    rates = timing.block_rates(
        batches, CPU, warmup=2, count=3, blocks=4, consume=lambda x, y: seen.append(len(y))
    )
    assert len(rates) == 4 and all(r > 0 for r in rates) and len(seen) == 2 + 3 * 4


def test_peak_memory_on_the_cpu_is_what_a_call_holds_beyond_its_start() -> None:
    def allocate() -> None:
        a = torch.ones(1_000_000)  # 4 MB held while b (4 MB) is made
        b = a * 2
        del a, b

    peak = timing.peak_memory(allocate, CPU)
    assert 8_000_000 <= peak < 9_000_000
    assert timing.peak_memory(lambda: None, CPU) == 0


def test_tensor_bytes_counts_each_storage_once() -> None:
    net = torch.nn.Linear(10, 10)  # 110 float32 parameters
    assert timing.tensor_bytes(net) == 440
    net(torch.ones(2, 10)).sum().backward()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    optimizer.step()
    assert timing.tensor_bytes(net, net, optimizer) == 3 * 440  # parameters, gradients, momentum
    with pytest.raises(TypeError):
        timing.tensor_bytes("net")


def test_rounds_can_be_extended_for_a_subset_keeping_pairs_aligned() -> None:
    calls: list[str] = []
    r = timing.Rounds({k: (lambda k=k: calls.append(k)) for k in "abc"}, CPU)
    r.run(1, timed=False)
    r.run(2)
    r.run(2, keys=["a", "c"])
    times, errors = r.result()
    assert {k: len(v) for k, v in times.items()} == {"a": 4, "b": 2, "c": 4} and not errors
    assert calls[:3] == ["a", "b", "c"] and calls[3:6] == ["b", "c", "a"]  # rotated from round to round


@pytest.mark.parametrize(("n", "k"), [(5, None), (6, 1), (8, 1), (9, 2), (20, 6), (50, 18)])
def test_the_median_interval_uses_the_binomial_order_statistics(n: int, k: int | None) -> None:
    """k = the largest index with P(Binomial(n, 1/2) < k) <= 2.5% (tables: n=6 -> 1, 20 -> 6, 50 -> 18)."""
    values = [float(i) for i in range(n)]
    interval = timing.median_interval(values[::-1])  # order does not matter
    assert interval == (None if k is None else (values[k - 1], values[n - k]))


def test_a_ratio_is_decided_only_when_its_interval_lies_on_one_side_of_the_target() -> None:
    vanilla = [1.0] * 8
    under = timing.ratio_estimate([1.00, 1.01, 1.00, 1.02, 1.01, 1.00, 1.01, 1.00], [vanilla])
    assert under.rounds == 8 and under.ratio == pytest.approx(1.005) and under.verdict(1.03) == "yes"
    above = timing.ratio_estimate([1.10, 1.12, 1.09, 1.11, 1.10, 1.13, 1.10, 1.12], [vanilla])
    assert above.verdict(1.03) == "no"
    # median 1.03 exactly at the target, spread across it: the statistic cannot tell
    noisy = timing.ratio_estimate([0.95, 1.10, 1.03, 0.98, 1.08, 1.03, 1.01, 1.05], [vanilla])
    assert noisy.verdict(1.03) == "unresolved"
    few = timing.ratio_estimate([1.0, 1.0, 1.0], [vanilla])
    assert few.low is None and few.verdict(5.0) == "unresolved"  # 3 rounds give no 95% interval
    # a ratio over the sum of several passes, round by round
    passes = timing.ratio_estimate([3.0] * 6, [[1.0] * 6, [2.0] * 6])
    assert passes.ratio == 1.0 and passes.verdict(1.10) == "yes"
    with pytest.raises(ValueError):
        timing.ratio_estimate([], [vanilla])
