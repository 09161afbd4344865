"""The one builder: training, restore, bench perf and bench visualize get the same model, method
and random draws for a job."""

from __future__ import annotations

import torch

from bench import build, registry
from bench.methods.base import MethodContext
from tests.test_train import tiny_job

SYNTHETIC = registry.get("datasets", "synthetic").load()


def test_the_same_job_builds_the_same_weights_and_generator() -> None:
    job = tiny_job("automix", epochs=2)
    a = build.build(job, SYNTHETIC, steps_per_epoch=4)
    b = build.build(job, SYNTHETIC, steps_per_epoch=4)
    for x, y in zip([*a.model.state_dict().values()], [*b.model.state_dict().values()]):
        assert torch.equal(x, y)
    for x, y in zip([*a.method.state_dict().values()], [*b.method.state_dict().values()]):
        assert torch.equal(x, y) if isinstance(x, torch.Tensor) else x == y  # tensors, extra state
    assert torch.equal(a.generator.get_state(), b.generator.get_state())
    assert a.method.ctx.generator is a.generator


def test_the_method_generator_is_offset_from_the_data_generator() -> None:
    job = tiny_job("mixup", seed=3)
    built = build.build(job, SYNTHETIC, steps_per_epoch=4, with_optimizer=False)
    assert built.optimizer is None
    fresh = torch.Generator().manual_seed(3 + build.METHOD_SEED_OFFSET)
    assert torch.equal(built.generator.get_state(), fresh.get_state())
    assert not torch.equal(built.generator.get_state(), torch.Generator().manual_seed(3).get_state())


def test_the_context_carries_the_jobs_facts() -> None:
    job = tiny_job("mixup", epochs=5)
    ctx = build.method_context(job, SYNTHETIC, device="cpu", steps_per_epoch=7, generator=torch.Generator())
    assert isinstance(ctx, MethodContext)
    assert (ctx.num_classes, ctx.image_size, ctx.steps_per_epoch, ctx.total_steps) == (10, 16, 7, 35)
    assert (ctx.backbone, ctx.mean, ctx.std) == (job.backbone, SYNTHETIC.mean, SYNTHETIC.std)


def test_an_existing_network_is_set_up_not_rebuilt() -> None:
    job = tiny_job("automix")
    net = build.model(job, SYNTHETIC)
    built = build.build(job, SYNTHETIC, steps_per_epoch=4, net=net)
    assert built.model is net
    trained = {id(p) for g in built.optimizer.param_groups for p in g["params"]}
    assert {id(p) for p in net.parameters()} <= trained
    assert {id(p) for p in built.method.block.parameters()} <= trained


def test_job_for_gives_a_method_its_defaults_and_version() -> None:
    job = build.job_for("snapmix", backbone="tiny_resnet", dataset="synthetic", recipe=tiny_job().recipe)
    assert job.method == job.method_name == "snapmix" and job.params == {}
    assert job.method_version == registry.get("methods", "snapmix").load().version
