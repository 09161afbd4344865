"""PuzzleMix details, and its masks and transported images against the official code.

tests/fixtures/puzzlemix_official.npz holds fixed inputs and the mixed images and label weights
that the official implementation (snu-mllab/PuzzleMix `mixup.py`, commit e2dbf3a, run on the CPU)
computed from them, written by tests/fixtures/make_puzzlemix_reference.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.methods.base import MethodContext
from bench.methods.puzzlemix import PuzzleMix, PuzzleMixParams
from tests.fixtures.methods import batch, model

FIXTURE = np.load(Path(__file__).parents[1] / "fixtures" / "puzzlemix_official.npz")
CIFAR100 = ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762))
CASES = sorted(int(key[4:]) for key in FIXTURE.files if key.startswith("case") and key[4:].isdigit())


def make(seed: int = 0, size: int = 16, mean_std=((0.5,) * 3, (0.25,) * 3), **params) -> PuzzleMix:
    mean, std = mean_std
    ctx = MethodContext(
        10, size, 0.0, torch.Generator().manual_seed(seed), torch.device("cpu"), 1, 1, mean=mean, std=std
    )
    return PuzzleMix(PuzzleMixParams(**params), ctx)


@pytest.mark.parametrize("case", CASES)
def test_matches_the_official_code(case: int) -> None:
    block_num, t_size, transport, n_labels = (int(v) for v in FIXTURE[f"case{case}"])
    method = make(size=32, mean_std=CIFAR100, t_size=t_size, transport=bool(transport), n_labels=n_labels)
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in CIFAR100)
    images = (torch.from_numpy(FIXTURE["images"]).float() / 255 - mean) / std
    saliency = torch.from_numpy(FIXTURE["grad"]).float()
    perm, lam = torch.from_numpy(FIXTURE["perm"]), float(FIXTURE["lam"])
    sample = method.mix_with(images, saliency, perm, lam, block_num)
    mixed, _ = sample.apply(images, torch.eye(10)[:4])
    official = torch.from_numpy(FIXTURE[f"case{case}_mixed"]).float()  # stored as float16
    torch.testing.assert_close(mixed, official, atol=2e-3, rtol=0)
    torch.testing.assert_close(sample.lam, torch.from_numpy(FIXTURE[f"case{case}_ratio"]))


def test_saliency_is_the_rms_input_gradient_in_eval_mode_and_touches_nothing() -> None:
    net, method = model(), make()
    net.train()
    images, labels = batch()
    running = net.bn1.running_mean.clone()
    saliency = method.saliency(net, images, labels)
    assert net.training and torch.equal(net.bn1.running_mean, running)  # mode restored, BN stats kept
    assert all(p.grad is None for p in net.parameters())
    net.eval()
    x = images.clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(net(x), labels).backward()
    torch.testing.assert_close(saliency, x.grad.pow(2).mean(1).sqrt())


def test_transport_only_moves_whole_blocks_of_each_image() -> None:
    method = make(seed=2, size=16, block_nums=(4,), t_size=-1)
    images, labels = batch()
    sample = method.sample(model(), images, labels)
    blocks = images.unfold(2, 4, 4).unfold(3, 4, 4).reshape(8, 3, 16, 16)  # (B, C, block, pixels)
    moved = sample.source.unfold(2, 4, 4).unfold(3, 4, 4).reshape(8, 3, 16, 16)
    for b in range(8):
        for j in range(16):
            block = moved[b, :, j]
            assert (block == 0).all() or any(torch.equal(block, blocks[b, :, i]) for i in range(16))
    assert not torch.equal(sample.source, images)  # something did move


def test_without_transport_the_images_stay_in_place() -> None:
    sample = make(seed=2, transport=False).sample(model(), *batch())
    images, _ = batch()
    assert torch.equal(sample.source, images) and torch.equal(sample.partner, images[sample.perm])
    assert set(sample.mask.unique().tolist()) <= {0.0, 0.5, 1.0}  # three mixing levels


def dense_transport_plan(mask: torch.Tensor, saliency: torch.Tensor, eps: float) -> torch.Tensor:
    """The transport iteration as the paper's code writes it, on dense (m^2 x m^2) 0/1 plans."""
    batch, m = mask.shape[0], mask.shape[-1]
    yx = torch.stack(torch.meshgrid(torch.arange(m), torch.arange(m), indexing="ij"), -1).view(-1, 2)
    distance = ((yx[:, None] - yx[None, :]) ** 2).sum(-1).float() / (m - 1) ** 2
    cost = eps * distance - saliency.reshape(batch, -1, 1) * (mask > 0).float().reshape(batch, 1, -1)
    for _ in range(m):
        plan = torch.zeros_like(cost).scatter_(-1, cost.min(-1)[1][..., None], 1)
        won = torch.zeros_like(cost).scatter_(-2, (plan * cost).min(-2)[1][:, None], 1) * plan
        cost = cost + (1 - won) * plan
    return won


@pytest.mark.parametrize("m", [2, 4, 8])
def test_sparse_transport_equals_the_dense_iteration(m: int) -> None:
    from bench.methods.puzzlemix import transport_plan

    g = torch.Generator().manual_seed(m)
    for trial in range(12):  # random masks and saliencies, and the degenerate cases with ties
        mask = (torch.rand(4, 1, m, m, generator=g) > 0.5).float() * [0.5, 1.0][trial % 2]
        saliency = torch.rand(4, m, m, generator=g)
        if trial % 3 == 0:
            saliency = torch.full((4, m, m), 1.0)
        if trial % 4 == 1:
            mask = torch.ones_like(mask) if trial % 8 == 1 else torch.zeros_like(mask)
        saliency = saliency / saliency.sum((1, 2), keepdim=True)
        sources = transport_plan(mask, saliency, [0.8, 0.01, 5.0][trial % 3])
        dense = torch.zeros(4, m * m, m * m)
        b, j = (sources >= 0).nonzero(as_tuple=True)
        dense[b, sources[b, j], j] = 1
        assert torch.equal(dense, dense_transport_plan(mask, saliency, [0.8, 0.01, 5.0][trial % 3]))
