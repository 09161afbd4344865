"""AdAutoMix `switch_off`: the Mix Block trains on a step with probability switch_off, as in the code."""

from __future__ import annotations

import pytest
import torch

from bench.methods.adautomix import AdAutoMix, AdAutoMixParams
from tests.methods.test_learned import batch, make, optimizer_for, train_step


def test_the_block_trains_on_a_fraction_switch_off_of_the_steps() -> None:
    _, method = make(AdAutoMix, switch_off=0.8)
    draws = [method.generator_on() for _ in range(4000)]
    assert sum(draws) / len(draws) == pytest.approx(0.8, abs=0.03)  # 5 binomial standard deviations
    _, always = make(AdAutoMix)
    assert all(always.generator_on() for _ in range(50))  # 0: every step, and no draw spent
    assert torch.equal(always.ctx.generator.get_state(), make(AdAutoMix)[1].ctx.generator.get_state())


def test_a_skipped_step_trains_the_classifier_but_not_the_block() -> None:
    model, method = make(AdAutoMix, switch_off=1e-12)  # practically never on
    optimizer = optimizer_for(model, method)
    block = [p.detach().clone() for p in method.block.parameters()]
    head = [p.detach().clone() for p in method.head_mix.parameters()]
    teacher_batches = [
        m.num_batches_tracked.clone() for m in method.teacher.modules() if hasattr(m, "num_batches_tracked")
    ]
    loss, logs = method.loss(model, *batch(0))
    assert logs["generator_on"] == 0.0 and logs["teacher_ce"] == 0.0 and logs["adversarial"] == 1.0
    optimizer.zero_grad()
    loss.backward()
    assert all(p.grad is None for p in method.block.parameters())
    optimizer.step()
    method.after_step(model)
    assert all(torch.equal(a, b) for a, b in zip(block, method.block.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(head, method.head_mix.parameters()))
    # the teacher saw the clean batch only: no pass on the generator's mix, no replayed source passes
    after = [m.num_batches_tracked for m in method.teacher.modules() if hasattr(m, "num_batches_tracked")]
    assert all(int(b - a) == 1 for a, b in zip(teacher_batches, after))
    assert method._step == 1  # the adversarial alternation counts every step


def test_with_switch_off_one_every_step_trains_the_block() -> None:
    model, method = make(AdAutoMix, switch_off=1.0)
    optimizer = optimizer_for(model, method)
    block = [p.detach().clone() for p in method.block.parameters()]
    for step in range(2):
        train_step(model, method, optimizer, *batch(step))
    assert any(not torch.equal(a, b) for a, b in zip(block, method.block.parameters()))


def test_switch_off_outside_zero_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"switch_off must be in \[0, 1\]"):
        AdAutoMixParams(switch_off=1.5)
