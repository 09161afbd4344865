"""AutoMix and AdAutoMix mechanics on tiny inputs: masks, Mix Block equations, the EMA teacher, the
adversarial sign flip, full steps for N = 2 and 3, checkpoints, previews and suite validation."""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from timm.models.convnext import ConvNeXt

from bench.errors import ConfigError
from bench.methods.adautomix import AdAutoMix, AdAutoMixParams, CrossAttentionMixBlock
from bench.methods.automix import AutoMix, AutoMixParams, PixelMixBlock
from bench.methods.base import MethodContext
from bench.methods.learned import BatchNormReplay, ema_momentum, mix_images
from bench.models.backbones import build_backbone
from bench.suite import load
from tests.conftest import write_suite

NUM_CLASSES, SIZE, BATCH, TOTAL_STEPS = 10, 16, 6, 20


def make(cls, seed: int = 0, model: torch.nn.Module | None = None, backbone: str = "tiny_resnet", **params):
    ctx = MethodContext(
        num_classes=NUM_CLASSES,
        image_size=SIZE,
        label_smoothing=0.0,
        generator=torch.Generator().manual_seed(seed),
        device=torch.device("cpu"),
        steps_per_epoch=5,
        total_steps=TOTAL_STEPS,
        backbone=backbone,
    )
    method = cls(cls.Params(**params), ctx)
    if model is None:
        torch.manual_seed(0)
        model = build_backbone("tiny_resnet", num_classes=NUM_CLASSES, image_size=SIZE)
    method.setup(model)
    return model, method


def batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(BATCH, 3, SIZE, SIZE, generator=g), torch.randint(NUM_CLASSES, (BATCH,), generator=g)


def train_step(model, method, optimizer, images, labels) -> torch.Tensor:
    loss, _ = method.loss(model, images, labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    method.after_step(model)
    return loss


def optimizer_for(model, method) -> torch.optim.Optimizer:
    params = [*model.parameters(), *(p for g in method.param_groups() for p in g["params"])]
    return torch.optim.SGD(params, lr=0.1, momentum=0.9)


def random_init(block: torch.nn.Module, seed: int = 0) -> None:
    """Weights of order 1, so that the attention is far from uniform."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in block.parameters():
            p.copy_(torch.randn(p.shape, generator=g))


# --- masks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"mix_samples": 2},
        {"mix_samples": 3},
        {"mix_samples": 3, "lam_concat": True, "block_norm": "bn", "upsample": "bicubic"},
        {"mix_samples": 4, "upsample": "nearest"},
    ],
)
def test_adautomix_masks_are_non_negative_and_sum_to_one(params: dict) -> None:
    _, method = make(AdAutoMix, **params)
    random_init(method.block)
    images, _ = batch()
    perms, lam, _, _ = method.draw(BATCH, images.device)
    z, _ = method.teacher_clean(images)
    masks = method.masks(z, perms, lam, (SIZE, SIZE))
    assert masks.shape == (BATCH, params["mix_samples"], SIZE, SIZE)
    assert (masks >= 0).all() and torch.allclose(masks.sum(1), torch.ones(BATCH, SIZE, SIZE))
    assert masks.std() > 0.01  # not a constant split: the attention is doing something


def test_automix_masks_are_non_negative_and_sum_to_one() -> None:
    _, method = make(AutoMix, lam_concat=True)
    random_init(method.block)
    images, _ = batch()
    (perms, _), lam = method.draw(BATCH, images.device)
    z, _ = method.teacher_clean(images)
    masks = method.masks(z, perms, float(lam[0]), (SIZE, SIZE))
    assert masks.shape == (BATCH, 2, SIZE, SIZE)
    assert (masks >= 0).all() and torch.allclose(masks.sum(1), torch.ones(BATCH, SIZE, SIZE))


# --- the Mix Blocks against their equations -------------------------------------------------


def conv1x1(conv: torch.nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    out = torch.einsum("oc,bchw->bohw", conv.weight[:, :, 0, 0], x)
    return out if conv.bias is None else out + conv.bias.view(1, -1, 1, 1)


def with_lam(z: torch.Tensor, lam: float) -> torch.Tensor:
    return torch.cat([z, torch.full_like(z[:, :1], lam)], dim=1)


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("lam_concat", [False, True])
def test_cross_attention_block_computes_the_spec_equations(n: int, lam_concat: bool) -> None:
    torch.manual_seed(1)
    block = CrossAttentionMixBlock(channels=4, lam_concat=lam_concat, norm="none")
    random_init(block, seed=2)
    z = torch.randn(3, 4, 2, 3)
    perms = torch.stack([torch.randperm(3) for _ in range(n)])
    lam = torch.tensor([0.5, 0.3, 0.2][:n] if n == 3 else [0.7, 0.3])
    got = block(z, perms, lam)

    d = 2  # C / 2
    maps = [with_lam(z[perms[i]], float(lam[i])) if lam_concat else z[perms[i]] for i in range(n)]
    q = [F.relu(conv1x1(block.query, m)).flatten(2) for m in maps]  # (B, d, hw)
    k = [F.relu(conv1x1(block.key, m)).flatten(2) for m in maps]
    v = [conv1x1(block.value, m).flatten(2) for m in maps]  # (B, 1, hw)
    for i in range(n):
        scores = sum(q[i].transpose(1, 2) @ k[j] for j in range(n) if j != i) / math.sqrt(d)
        expected = (scores.softmax(-1) @ v[i].transpose(1, 2)).view(3, 2, 3)  # own values
        assert torch.allclose(got[:, i], expected, atol=1e-5), i
    # masks: upsampled logits, then a softmax over the images at each pixel
    masks = F.interpolate(got, scale_factor=4, mode="nearest").softmax(1)
    mixed = mix_images(torch.randn(3, 3, 8, 12), perms, masks)
    assert mixed.shape == (3, 3, 8, 12)


def test_cross_attention_block_with_batch_norm_normalises_q_and_k() -> None:
    block = CrossAttentionMixBlock(channels=4, lam_concat=True, norm="bn")
    assert block.query.bias is None and block.key.bias is None  # mmcv ConvModule: no bias before a norm
    random_init(block)
    z, perms, lam = (
        torch.randn(5, 4, 2, 2),
        torch.stack([torch.arange(5), torch.randperm(5)]),
        torch.tensor([0.6, 0.4]),
    )
    got = block(z, perms, lam)
    bn = lambda x, m: F.batch_norm(x, None, None, m.weight, m.bias, training=True)  # noqa: E731
    maps = [with_lam(z[perms[i]], float(lam[i])) for i in range(2)]
    q = [F.relu(bn(conv1x1(block.query, m), block.query_norm)).flatten(2) for m in maps]
    k = [F.relu(bn(conv1x1(block.key, m), block.key_norm)).flatten(2) for m in maps]
    v = conv1x1(block.value, maps[0]).flatten(2)
    expected = ((q[0].transpose(1, 2) @ k[1] / math.sqrt(2)).softmax(-1) @ v.transpose(1, 2)).view(5, 2, 2)
    assert torch.allclose(got[:, 0], expected, atol=1e-5)


@pytest.mark.parametrize("lam_concat", [False, True])
def test_pixel_mix_block_computes_the_automix_equations(lam_concat: bool) -> None:
    block = PixelMixBlock(channels=4, lam_concat=lam_concat)
    random_init(block, seed=3)
    z, perm, lam = torch.randn(3, 4, 2, 3), torch.tensor([2, 0, 1]), 0.7
    got = block(z, perm, lam)
    first = with_lam(z, lam) if lam_concat else z
    partner = with_lam(z[perm], 1 - lam) if lam_concat else z[perm]
    q = conv1x1(block.query, first).flatten(2)  # one conv for queries and keys, no activation
    k = conv1x1(block.query, partner).flatten(2)
    v = conv1x1(block.value, partner).flatten(2)  # the value comes from the partner
    expected = ((q.transpose(1, 2) @ k / math.sqrt(2)).softmax(-1) @ v.transpose(1, 2)).view(3, 1, 2, 3)
    assert torch.allclose(got, expected, atol=1e-5)


def test_nan_mask_logits_are_replaced_as_in_the_code() -> None:
    block = CrossAttentionMixBlock(channels=2, lam_concat=False, norm="none")
    with torch.no_grad():
        block.value.bias.fill_(float("nan"))
    z, perms = torch.randn(2, 2, 2, 2), torch.stack([torch.arange(2), torch.tensor([1, 0])])
    two = block(z, perms, torch.tensor([0.5, 0.5]))
    assert (two[:, 0] == 1e-4).all() and (two[:, 1] == 1e4).all()
    three = block(z, torch.cat([perms, perms[:1]]), torch.tensor([0.4, 0.3, 0.3]))
    assert torch.allclose(three, torch.full_like(three, 0.3))


# --- teacher and EMA ------------------------------------------------------------------------


def test_momentum_schedule_holds_then_follows_the_cosine() -> None:
    start, end, total = 0.999, 0.999999, 1000
    assert ema_momentum(0, total, start, end, 0.1) == start
    assert ema_momentum(99, total, start, end, 0.1) == start
    at = lambda t: end - (end - start) * (math.cos(math.pi * t / total) + 1) / 2  # noqa: E731
    for t in (100, 500, 999):
        assert ema_momentum(t, total, start, end, 0.1) == pytest.approx(at(t), abs=1e-12)
    assert ema_momentum(1000, total, start, end, 0.1) == pytest.approx(end)
    assert ema_momentum(249, total, start, end, 0.25) == start  # the ViT configs hold for 25%


@pytest.mark.parametrize("cls", [AutoMix, AdAutoMix])
def test_teacher_gets_no_gradient_and_moves_only_by_ema(cls) -> None:
    model, method = make(cls, ema_hold=0.0)
    optimizer = optimizer_for(model, method)
    teacher = [*method.teacher.parameters(), *method.teacher_head_mix.parameters()]
    assert not any(p.requires_grad for p in teacher)
    assert all(id(p) not in {id(q) for g in optimizer.param_groups for q in g["params"]} for p in teacher)
    for step in range(2):
        before = [p.detach().clone() for p in teacher]
        loss, _ = method.loss(model, *batch(step))
        optimizer.zero_grad()
        loss.backward()
        assert all(p.grad is None for p in teacher)
        optimizer.step()
        assert all(torch.equal(a, b) for a, b in zip(before, teacher))  # untouched by the optimizer
        m = method.ema_momentum()
        assert m == ema_momentum(step, TOTAL_STEPS, 0.999, 0.999999, 0.0)
        method.after_step(model)
        online = [*model.parameters(), *method.head_mix.parameters()]
        for old, new, q in zip(before, teacher, online):
            assert torch.equal(new, old * m + q.detach() * (1 - m))  # exactly the code's update
    assert any(not torch.equal(a, b) for a, b in zip(before, teacher))


def test_teacher_running_stats_replay_the_codes_extra_passes() -> None:
    _, method = make(AdAutoMix)
    reference = copy.deepcopy(method.teacher)
    images, _ = batch()
    perm = torch.randperm(BATCH)
    replay = BatchNormReplay(method.teacher)
    replay.start()
    method.teacher_clean(images)
    replay.batch_seen()
    replay.replay(3)
    with torch.no_grad():  # what the released code does: the clean pass, then three passes over x[perm]
        for x in (images, images[perm], images[perm], images[perm]):
            reference(x)
    for got, want in zip(method.teacher.buffers(), reference.buffers()):
        assert torch.allclose(got.float(), want.float(), rtol=1e-5, atol=1e-6)


# --- the adversarial generator --------------------------------------------------------------


def block_grads(model, step: int, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The Mix Block's and the classifier's gradients (flattened) of one loss at iteration `step`."""
    net = copy.deepcopy(model)
    _, m = make(AdAutoMix, seed=7, model=net, beta=beta)
    m._step = step
    m.loss(net, *batch())[0].backward()
    flat = lambda params: torch.cat([p.grad.flatten() for p in params])  # noqa: E731
    return flat(m.block.parameters()), flat(net.parameters())


def close(a: torch.Tensor, b: torch.Tensor, rel: float = 1e-4) -> bool:
    return bool((a - b).norm() <= rel * b.norm())


def test_generator_gradient_flips_sign_between_adversarial_and_cooperative_steps() -> None:
    torch.manual_seed(0)
    model = build_backbone("tiny_resnet", num_classes=NUM_CLASSES, image_size=SIZE)
    adversarial, classifier_adv = block_grads(model, step=0, beta=1.0)
    cooperative, classifier_coop = block_grads(model, step=1, beta=1.0)
    assert cooperative.norm() > 0
    assert close(adversarial, -cooperative)  # beta = 1: -CE against +CE
    assert close(classifier_adv, classifier_coop)  # the classifier's own loss does not flip
    # beta in (0, 1): -beta * (CE gradient) + (1 - beta) * (cosine gradient)
    cosine_only, _ = block_grads(model, step=2, beta=0.0)
    mixed, _ = block_grads(model, step=2, beta=0.3)
    assert not close(cosine_only, cooperative, rel=0.1) and not close(cosine_only, -cooperative, rel=0.1)
    assert close(mixed, -0.3 * cooperative + 0.7 * cosine_only)


def test_adversarial_steps_follow_adv_interval() -> None:
    model, method = make(AdAutoMix, adv_interval=3)
    optimizer = optimizer_for(model, method)
    flags = []
    for step in range(6):
        loss, logs = method.loss(model, *batch(step))
        flags.append(logs["adversarial"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        method.after_step(model)
    assert flags == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]


# --- full steps -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (AdAutoMix, {"mix_samples": 2, "lam_concat": True, "block_norm": "bn"}),
        (AdAutoMix, {"mix_samples": 3}),
        (
            AdAutoMix,
            {"mix_samples": 3, "is_random": True, "mix_shuffle_no_repeat": True, "upsample": "random"},
        ),
        (
            AutoMix,
            {"mask_loss_decay": "cosine_compounded", "lam_concat": True, "mix_shuffle_no_repeat": True},
        ),
    ],
)
def test_full_steps_run_and_train_every_part(cls, params: dict) -> None:
    model, method = make(cls, **params)
    optimizer = optimizer_for(model, method)
    start = {
        "model": [p.detach().clone() for p in model.parameters()],
        "head": [p.detach().clone() for p in method.head_mix.parameters()],
        "block": [p.detach().clone() for p in method.block.parameters()],
    }
    for step in range(3):
        loss = train_step(model, method, optimizer, *batch(step))
        assert torch.isfinite(loss)
    assert any(not torch.equal(a, b) for a, b in zip(start["model"], model.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(start["head"], method.head_mix.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(start["block"], method.block.parameters()))
    assert method._step == 3


def test_mix_block_and_head_get_their_own_optimizer_groups() -> None:
    _, method = make(AdAutoMix, mix_block_lr=0.05, mix_block_min_lr=0.001)
    head, block = method.param_groups()
    assert {id(p) for p in head["params"]} == {id(p) for p in method.head_mix.parameters()}
    assert "lr" not in head  # the head is part of the classifier: the recipe's lr and min lr
    assert block["lr"] == 0.05 and block["min_lr"] == 0.001
    assert {id(p) for p in block["params"]} == {id(p) for p in method.block.parameters()}


def test_a_network_without_batch_norm_batches_its_online_passes() -> None:
    torch.manual_seed(0)
    model = ConvNeXt(depths=(1, 1, 1, 1), dims=(8, 16, 32, 64), num_classes=NUM_CLASSES)
    model.stem[0] = torch.nn.Conv2d(3, 8, 3, padding=1)  # the CIFAR stem, so 16 px images reach stage 4
    _, method = make(AdAutoMix, model=model, backbone="convnext_tiny")
    assert method.batchable and method.block.channels == 32
    model.eval()
    parts = [torch.randn(4, 3, SIZE, SIZE) for _ in range(3)]
    with torch.no_grad():
        together = method.online_pooled(model, parts)
        method.batchable = False
        apart = method.online_pooled(model, parts)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(together, apart))
    method.batchable = True
    model.train()
    optimizer = optimizer_for(model, method)
    for step in range(2):
        assert torch.isfinite(train_step(model, method, optimizer, *batch(step)))


def test_lam_margin_rules_are_the_official_code() -> None:
    _, method = make(AdAutoMix, lam_margin=0.03)
    hit = lambda *lam: method.margin_hit(torch.tensor(lam))  # noqa: E731
    assert hit(0.02, 0.98) and hit(0.98, 0.02) and not hit(0.5, 0.5)
    assert hit(0.02, 0.49, 0.49) and hit(0.98, 0.01, 0.01)
    assert not hit(0.4, 0.3, 0.3)  # OpenMixup's copy would fall back here (margin < 1 - lambda_1)


def test_margin_fallback_gives_the_classifier_plain_mixup() -> None:
    model, method = make(AdAutoMix, mix_samples=2, lam_margin=0.499)
    seen = []
    original = method.online_pooled
    method.online_pooled = lambda net, batches: seen.append(batches) or original(net, batches)
    images, labels = batch()
    generator_state = method.ctx.generator.get_state()
    _, _, perms_bb, lam_bb = method.draw(BATCH, images.device)
    method.ctx.generator.set_state(generator_state)
    method.loss(model, images, labels)
    linear = lam_bb[0] * images[perms_bb[0]] + lam_bb[1] * images[perms_bb[1]]
    assert torch.allclose(seen[0][-1], linear, atol=1e-6)


@pytest.mark.parametrize("decay", ["none", "cosine", "cosine_compounded"])
def test_automix_mask_loss_weight_schedules(decay: str) -> None:
    model, method = make(AutoMix, mask_loss_decay=decay)
    optimizer = optimizer_for(model, method)
    weights = []
    for step in range(4):
        weights.append(method.mask_weight)
        train_step(model, method, optimizer, *batch(step))
    anneal = [(1 + math.cos(math.pi * t / TOTAL_STEPS)) / 2 for t in range(4)]
    expected = {
        "none": [0.1] * 4,
        "cosine": [0.1 * a for a in anneal],
        "cosine_compounded": [0.1 * math.prod(anneal[: t + 1]) for t in range(4)],
    }[decay]
    assert weights == pytest.approx(expected, rel=1e-12)


# --- checkpoint and preview -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (AdAutoMix, {"upsample": "random", "block_norm": "bn"}),
        (AutoMix, {"mask_loss_decay": "cosine_compounded"}),
    ],
)
def test_state_dict_round_trip_restores_block_teacher_and_schedules(cls, params: dict) -> None:
    model, method = make(cls, **params)
    optimizer = optimizer_for(model, method)
    for step in range(3):
        train_step(model, method, optimizer, *batch(step))
    state = method.state_dict()
    assert state["_extra_state"]["step"] == 3
    fresh_model, restored = make(cls, seed=99, **params)  # different initial draws
    fresh_model.load_state_dict(model.state_dict())
    restored.load_state_dict(state)
    for key, value in restored.state_dict().items():
        if key != "_extra_state":
            assert torch.equal(value, state[key]), key
    assert restored.get_extra_state() == method.get_extra_state()
    assert restored.ema_momentum() == method.ema_momentum()
    restored.ctx.generator.set_state(method.ctx.generator.get_state())
    images, labels = batch(5)
    assert torch.equal(restored.loss(fresh_model, images, labels)[0], method.loss(model, images, labels)[0])


@pytest.mark.parametrize("cls", [AutoMix, AdAutoMix])
def test_preview_shows_the_generators_mix_and_touches_nothing(cls) -> None:
    model, method = make(cls, seed=4)
    random_init(method.block)
    images, labels = batch()
    buffers = [b.clone() for b in method.buffers()]
    preview = method.preview(model, images, labels)
    assert all(torch.equal(a, b) for a, b in zip(buffers, method.buffers()))
    # the same draws in a training step: the generator branch mixes exactly these images
    _, twin = make(cls, seed=4)
    random_init(twin.block)
    generated = []
    original = twin.teacher_mix_logits
    twin.teacher_mix_logits = lambda mixed: generated.append(mixed.detach()) or original(mixed)
    twin.loss(model, images, labels)
    assert torch.allclose(preview.images, generated[0], atol=1e-6)
    assert torch.allclose(preview.weights.sum(1), torch.ones(BATCH))
    linear = mix_images(images, preview.sources.T, preview.weights[0].view(1, -1, 1, 1))
    assert not torch.allclose(preview.images, linear, atol=1e-3)  # learned masks, not plain mixup


# --- suite validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "setting", "message"),
    [
        ("adautomix", "beta: 1.5", "beta must be in [0, 1], got 1.5"),
        ("adautomix", "mix_samples: 1", "mix_samples (N, images per mix) must be >= 2, got 1"),
        ("adautomix", "ema_start: 1.0", "ema_start (EMA momentum) must be in (0, 1), got 1.0"),
        ("automix", "ema_end: 0.0", "ema_end (EMA momentum) must be in (0, 1), got 0.0"),
        ("adautomix", "upsample: linear", "'linear' is not valid"),
    ],
)
def test_suite_validation_rejects_bad_settings(project, method: str, setting: str, message: str) -> None:
    path = write_suite(
        project,
        f"""
        name: bad
        axes: {{methods: [{method}], backbones: [tiny_resnet], datasets: [synthetic], seeds: [0]}}
        method_params:
          {method}: {{{setting}}}
        """,
    )
    with pytest.raises(ConfigError) as error:
        load(path)
    assert message in str(error.value) and "suite.yaml" in str(error.value)
    assert f"params of {method}" in str(error.value) or "method_params" in str(error.value)


def test_suite_validation_rejects_a_backbone_without_a_usable_stage3_map(project) -> None:
    path = write_suite(
        project,
        """
        name: bad
        axes: {methods: [adautomix], backbones: [swin_tiny], datasets: [synthetic], seeds: [0]}
        recipe: {image_size: 32}
        """,
    )
    with pytest.raises(
        ConfigError, match=r"adautomix cannot run here: swin_tiny gives its 7x7 stage-3 map at 224 px only"
    ):
        load(path)


def test_params_keep_every_per_dataset_setting() -> None:
    names = {f.name for f in dataclasses.fields(AdAutoMixParams)}
    assert {
        "beta",
        "mix_samples",
        "is_random",
        "lam_concat",
        "upsample",
        "block_norm",
        "mix_block_lr",
        "mix_block_min_lr",
        "ema_start",
        "ema_end",
        "ema_hold",
        "lam_margin",
        "mixup_ratio",
        "mix_shuffle_no_repeat",
    } <= names
    assert {"mask_loss", "mask_loss_decay", "alpha", "lam_margin", "upsample"} <= {
        f.name for f in dataclasses.fields(AutoMixParams)
    }
