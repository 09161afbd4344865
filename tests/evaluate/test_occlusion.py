"""The occlusion evaluator: AdAutoMix's patch grid, count, fill and per-batch positions, checked on
a network whose answer under occlusion is known by construction."""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from bench.data.base import ImageSet
from bench.errors import BenchError
from bench.evaluate import occlusion
from bench.evaluate.config import OcclusionSettings

MEAN = (0.4914, 0.4822, 0.4465)  # CIFAR's: no k/255 pixel value equals it


def test_squares_are_hidden_row_major_with_the_fill_and_shared_by_the_batch() -> None:
    images = torch.rand(3, 3, 8, 8)
    fill = torch.tensor(MEAN)
    out = occlusion.occlude(images, fill, 4, [1, 2])  # 2x2 grid: top-right and bottom-left
    hidden = torch.zeros(8, 8, dtype=torch.bool)
    hidden[0:4, 4:8] = hidden[4:8, 0:4] = True
    assert torch.equal(out[:, :, ~hidden], images[:, :, ~hidden])
    assert torch.equal(out[:, :, hidden], fill.view(1, 3, 1).expand(3, 3, 32))  # every image, same squares
    assert torch.equal(occlusion.occlude(images, fill, 4, []), images)


def test_the_count_is_pythons_round_of_ratio_times_squares_as_in_the_script() -> None:
    assert occlusion.hidden_count(0.1, 196) == 20  # 19.6: the script's 224 px, 16 px patches
    assert occlusion.hidden_count(0.25, 196) == 49
    assert occlusion.hidden_count(0.5, 1) == 0  # round half to even
    assert occlusion.hidden_count(1.0, 16) == 16


def test_positions_are_distinct_and_the_patch_must_tile_the_image() -> None:
    drawn = occlusion.positions(np.random.default_rng(0), 196, 150)
    assert len(set(drawn.tolist())) == 150 and drawn.min() >= 0 and drawn.max() < 196
    assert occlusion.grid(224, 224, 16) == (14, 14)
    with pytest.raises(BenchError, match=r"occlusion_patch 5 does not tile the 32x32 px .* 1, 2, 4, 8, 16"):
        occlusion.grid(32, 32, 5)


def test_the_area_is_the_mean_top1_over_the_occluded_share() -> None:
    assert occlusion.area([0, 0.5, 1], [100, 50, 0]) == pytest.approx(50)
    assert occlusion.area([1, 0, 0.5], [0, 100, 50]) == pytest.approx(50)  # any order
    assert occlusion.area([0.2, 0.4], [80, 60]) == pytest.approx(70)  # over the span measured
    assert occlusion.area([0.5], [42]) == 42


class CountHidden(nn.Module):
    """Answers how many squares of the grid are exactly the fill colour: class k = k squares."""

    def __init__(self, patch: int, fill: tuple[float, float, float], classes: int) -> None:
        super().__init__()
        self.patch, self.classes = patch, classes
        self.register_buffer("fill", torch.tensor(fill).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        same = (x == self.fill).all(dim=1).float()  # (N, H, W)
        per_square = nn.functional.avg_pool2d(same.unsqueeze(1), self.patch).flatten(1)
        count = (per_square == 1).sum(dim=1)
        return nn.functional.one_hot(count, self.classes).float()


class FirstHidden(nn.Module):
    """Answers the number of the first hidden square (row-major), or 0 when none is hidden."""

    def __init__(self, patch: int) -> None:
        super().__init__()
        self.inner = CountHidden(patch, MEAN, 17)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        same = (x == self.inner.fill).all(dim=1).float()
        per_square = nn.functional.avg_pool2d(same.unsqueeze(1), self.inner.patch).flatten(1) == 1
        first = torch.where(
            per_square.any(1),
            per_square.float().argmax(1),
            torch.zeros_like(per_square[:, 0], dtype=torch.long),
        )
        return nn.functional.one_hot(first, 17).float()


def context(tmp_path: Path, networks: dict[str, nn.Module], labels: list[int]) -> SimpleNamespace:
    """The part of an EvaluationContext the occlusion evaluator uses: 16 px images, 4x4 squares."""
    n = len(labels)
    images = torch.randint(
        0, 256, (n, 3, 16, 16), generator=torch.Generator().manual_seed(0), dtype=torch.uint8
    )
    test = ImageSet(images, torch.tensor(labels))

    def batches(batch_size: int):
        for i in range(0, n, batch_size):
            yield images[i : i + batch_size].float() / 255, test.labels[i : i + batch_size]

    bar = SimpleNamespace(advance=lambda steps=1: None)
    job = SimpleNamespace(label="vanilla/tiny/synthetic/seed 0")
    return SimpleNamespace(
        test=test,
        networks=networks,
        batches=batches,
        progress=lambda what, total: contextlib.nullcontext(bar),
        run=SimpleNamespace(dataset=SimpleNamespace(mean=MEAN), job=job),
        run_dir=tmp_path,
    )


def test_a_model_that_counts_hidden_squares_scores_exactly_where_its_count_is_right(tmp_path: Path) -> None:
    ctx = context(tmp_path, {"online": CountHidden(4, MEAN, 17)}, [4] * 10)  # every label: 4 squares
    settings = OcclusionSettings(occlusion_patch=4, occlusion_ratios=(0.0, 0.25, 0.5, 1.0), batch_size=3)
    record = occlusion.evaluate(ctx, settings)["online"]
    assert record["grid"] == [4, 4] and record["hidden_patches"] == [0, 4, 8, 16]
    assert record["shares"] == [0.0, 0.25, 0.5, 1.0]
    assert record["curve_top1"] == [0.0, 100.0, 0.0, 0.0]  # right only when 4 squares are hidden
    assert record["auc"] == pytest.approx(25.0)  # (0 + 100)/2 · 0.25 + (100 + 0)/2 · 0.25, over a span of 1
    assert (tmp_path / occlusion.FIGURE).read_bytes()[:4] == b"\x89PNG"


def test_positions_are_drawn_per_batch_seeded_by_seed_and_ratio(tmp_path: Path) -> None:
    """The first hidden square is the same within a batch, changes between batches, and the curve
    repeats exactly with the same seed whatever other ratios are asked for."""
    labels = [0] * 12
    net = FirstHidden(4)
    answers: list[list[int]] = []
    original = occlusion.occlude

    def spy(images, fill, patch, hidden):
        out = original(images, fill, patch, hidden)
        answers.append(net(out).argmax(1).tolist())
        return out

    ctx = context(tmp_path, {"online": net}, labels)
    settings = OcclusionSettings(occlusion_patch=4, occlusion_ratios=(0.25,), batch_size=4)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(occlusion, "occlude", spy)
        first = occlusion.evaluate(ctx, settings)["online"]
    assert all(len(set(batch)) == 1 for batch in answers)  # one draw per batch, shared by its images
    assert len({batch[0] for batch in answers}) > 1  # and a new draw for the next batch
    again = occlusion.evaluate(
        ctx, OcclusionSettings(occlusion_patch=4, occlusion_ratios=(0.0, 0.25), batch_size=4)
    )
    assert again["online"]["curve_top1"][1] == first["curve_top1"][0]
    drawn = {s: occlusion.positions(occlusion._generator(s, 0.25), 16, 4).tolist() for s in (0, 1)}
    assert drawn[0] != drawn[1]  # another seed, other squares
