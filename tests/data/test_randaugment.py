"""RandAugment: every op, and whole draws, pixel for pixel as OpenMixup computes them (its own code,
mmcv 1.7.1, OpenCV 4.8: tests/fixtures/make_randaugment_reference.py), the draws distributed as
OpenMixup draws them, and the batch on any device equal to the image-by-image path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.data import randaugment as RA
from bench.data import transforms as T
from bench.data.base import to_pil

FIXTURE = Path(__file__).parent.parent / "fixtures" / "randaugment_openmixup.npz"


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as data:
        return dict(data)


def chw(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img).permute(2, 0, 1).contiguous()


def hwc(x: torch.Tensor) -> np.ndarray:
    return x.permute(1, 2, 0).numpy()


def test_every_op_gives_openmixups_pixels(reference) -> None:
    images = [reference[f"op_images_{i}"] for i in range(3)]
    cases = reference["op_cases"]
    assert {RA.FIXMATCH_OPENMIXUP[int(i)].name for i, _ in cases} == {
        op.name for op in RA.FIXMATCH_OPENMIXUP if op.name != "Identity"
    }
    for c, (index, value) in enumerate(cases):
        op = RA.FIXMATCH_OPENMIXUP[int(index)]
        for i, img in enumerate(images):
            ours = hwc(op.apply(chw(img)[None], [float(value)])[0])
            expected = reference[f"op_out_{c}_{i}"]
            assert np.array_equal(ours, expected), f"{op.name}({value:g}) on image {i}: " + (
                f"{int((ours != expected).sum())} values differ"
            )


def test_whole_draws_give_openmixups_images(reference) -> None:
    """32 images, two ops each from fixed draws (every op drawn, levels clipped at both ends)."""
    step = RA.RandAugmentStep()
    images = torch.from_numpy(reference["draw_images"]).permute(0, 3, 1, 2).contiguous()
    params = torch.from_numpy(reference["draw_params"])
    ours = step.batch(images, params).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(ours, reference["draw_out"])
    applied = {
        RA.FIXMATCH_OPENMIXUP[d.op].name for row in params.tolist() for d in step.decode(row) if d.applied
    }
    assert len(applied) == len(RA.FIXMATCH_OPENMIXUP) - 1  # every op but Identity ran somewhere


def test_decode_maps_draws_as_openmixup_does() -> None:
    step = RA.RandAugmentStep()
    ops = {op.name: i for i, op in enumerate(RA.FIXMATCH_OPENMIXUP)}
    u = lambda name: (ops[name] + 0.5) / 14  # noqa: E731  a uniform that picks `name`
    # level 7 + 0.5 * 2 = 8; Rotate: 8 / 10 * 30 = 24 degrees, negated (u_sign < 0.5)
    rotate, posterize = step.decode([u("Rotate"), 2.0, 0.5, 0.49, u("Posterize"), -20.0, 0.2, 0.0])
    assert (rotate.op, rotate.applied, rotate.value) == (ops["Rotate"], True, -24.0)
    assert (posterize.value, posterize.applied) == (4.0, True)  # level clipped to 0: 4 bits, never negated
    # applied when u <= 0.5 (OpenMixup skips when rand() > prob); the sign when u < 0.5
    brightness, identity = step.decode([u("Brightness"), 100.0, 0.5001, 0.5, u("Identity"), 0.0, 0.0, 0.0])
    assert (brightness.applied, brightness.value) == (False, 0.95)  # level clipped to 10
    assert (identity.applied, identity.value) == (False, 0.0)
    (solarize, _) = step.decode([u("Solarize"), 0.0, 0.0, 0.0, 0.999999, 0.0, 0.0, 0.0])
    assert solarize.value == pytest.approx(256 - 0.7 * 256)  # thresholds fall with the level
    assert step.decode([0.999999, 0.0, 0.0, 0.0] * 2)[0].op == len(ops) - 1


def test_draws_are_distributed_as_openmixups() -> None:
    step = RA.RandAugmentStep()
    params = step.sample(20_000, torch.Generator().manual_seed(0))
    assert params.shape == (20_000, 2 * RA.DRAWS_PER_OP) and params.dtype == torch.float64
    draws = [d for row in params.tolist() for d in step.decode(row)]
    counts = np.bincount([d.op for d in draws], minlength=14)
    assert abs(counts / len(draws) - 1 / 14).max() < 0.006  # uniform with replacement
    signed = [d for d in draws if RA.FIXMATCH_OPENMIXUP[d.op].name == "Rotate"]
    assert 0.47 < np.mean([d.applied for d in signed]) < 0.53
    magnitudes = np.array([abs(d.value) / 3 for d in signed])  # level = |angle| / 30 * 10
    assert 0.47 < np.mean([d.value < 0 for d in signed]) < 0.53
    assert abs(magnitudes.mean() - 7) < 0.02 and abs(magnitudes.std() - 0.5) < 0.02


@pytest.mark.parametrize(("augmentation", "size", "source"), [("crop_flip", 32, 32), ("rrc_flip", 48, 32)])
def test_a_batch_equals_the_image_by_image_path(augmentation: str, size: int, source: int) -> None:
    """The in-memory batch and the DataLoader workers' PIL path give the same pixels: CIFAR's crop
    and flip then RandAugment (ConvNeXt-T), an upsampling RandomResizedCrop then RandAugment (Swin-T)."""
    scale = (0.8, 1.0) if augmentation == "rrc_flip" else None
    build = dict(interpolation="bicubic", eval_crop=None, crop_scale=scale)
    transform = T.build(augmentation, size, **build, randaugment=RA.RandAugmentStep())
    g = torch.Generator().manual_seed(3)
    images = torch.randint(0, 256, (24, 3, source, source), generator=g, dtype=torch.uint8)
    params = transform.sample(len(images), g)
    batch = transform.augment(transform.prepared(images), params)
    one_by_one = torch.stack([transform.one(to_pil(img), params[i].tolist()) for i, img in enumerate(images)])
    assert batch.shape == (24, 3, size, size) and torch.equal(batch, one_by_one)
    # RandAugment runs after the crop and flip, whose parameters come first
    crop = T.build(augmentation, size, **build)
    cropped = crop.augment(crop.prepared(images), params[:, : crop.random.width])
    assert torch.equal(batch, RA.RandAugmentStep().batch(cropped, params[:, crop.random.width :]))


@pytest.mark.cuda
def test_a_batch_on_the_gpu_equals_the_cpu() -> None:
    step = RA.RandAugmentStep()
    g = torch.Generator().manual_seed(5)
    images = torch.randint(0, 256, (64, 3, 32, 32), generator=g, dtype=torch.uint8)
    params = step.sample(64, g)
    assert torch.equal(step.batch(images.cuda(), params).cpu(), step.batch(images, params))
