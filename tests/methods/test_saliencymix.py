"""SaliencyMix details, and the torch port of OpenCV's fine-grained saliency against OpenCV itself.

tests/fixtures/fine_grained_saliency.npz holds five 8-bit images and the maps that
cv2.saliency.StaticSaliencyFineGrained computed for them (opencv-contrib-python-headless 5.0.0,
written by tests/fixtures/make_saliency_reference.py in a throwaway venv; the project does not
depend on OpenCV).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.methods.base import MethodContext
from bench.methods.fine_grained_saliency import fine_grained_saliency, peak
from bench.methods.saliencymix import SaliencyMix, SaliencyMixParams

FIXTURE = np.load(Path(__file__).parents[1] / "fixtures" / "fine_grained_saliency.npz")
NAMES = sorted(key[: -len("_image")] for key in FIXTURE.files if key.endswith("_image"))


@pytest.mark.parametrize("name", NAMES)
def test_saliency_map_equals_opencv(name: str) -> None:
    rgb = torch.from_numpy(FIXTURE[f"{name}_image"]).permute(2, 0, 1)
    reference = torch.from_numpy(FIXTURE[f"{name}_saliency"].astype(np.int64))
    ours = fine_grained_saliency(rgb)
    assert torch.equal(ours, reference)
    assert peak(ours) == np.unravel_index(np.argmax(FIXTURE[f"{name}_saliency"]), reference.shape)


def make(seed: int = 0, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), **params) -> SaliencyMix:
    ctx = MethodContext(
        10, 32, 0.0, torch.Generator().manual_seed(seed), torch.device("cpu"), 1, 1, mean=mean, std=std
    )
    return SaliencyMix(SaliencyMixParams(**params), ctx)


def spot_images(spots: list[tuple[int, int]], mean: float = 0.5, std: float = 0.25) -> torch.Tensor:
    """Dark textured images with one bright 3 x 3 spot each, normalised with (mean, std)."""
    g = torch.Generator().manual_seed(0)
    pixels = 0.2 + 0.05 * torch.rand(len(spots), 3, 32, 32, generator=g)
    for i, (y, x) in enumerate(spots):
        pixels[i, :, y - 1 : y + 2, x - 1 : x + 2] = 1.0
    return (pixels - mean) / std


def test_box_is_centred_on_the_saliency_peak_of_the_first_partner() -> None:
    images = spot_images([(6, 26), (20, 25), (12, 9), (26, 14)])
    peaks = [make().saliency_peak(image) for image in images]
    assert len(set(peaks)) == 4  # so the test can tell which image's saliency was used
    for seed in range(8):
        sample = make(seed, alpha=1.0).sample(images)
        cy, cx = peaks[int(sample.perm[0])]  # the partner of the first sample is the source
        box = sample.mask[0, 0] == 0
        assert box.any()
        rows, cols = box.any(1).nonzero().flatten(), box.any(0).nonzero().flatten()
        top, bottom, left, right = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
        assert box[top:bottom, left:right].all()
        # centred on the peak: equal halves (cut // 2) on each side, except where the image clips them
        half_h, half_w = max(cy - top, bottom - cy), max(cx - left, right - cx)
        assert top == max(cy - half_h, 0) and bottom == min(cy + half_h, 32)
        assert left == max(cx - half_w, 0) and right == min(cx + half_w, 32)
        assert torch.allclose(sample.lam, 1 - box.float().mean().expand(4))


def test_saliency_is_taken_on_the_unnormalised_8_bit_image() -> None:
    images = spot_images([(6, 6)], mean=0.4, std=0.2)
    method = make(mean=(0.4, 0.4, 0.4), std=(0.2, 0.2, 0.2))
    pixels = (images[0] * 0.2 + 0.4).mul(255).round().clamp(0, 255).to(torch.uint8)
    assert method.saliency_peak(images[0]) == peak(fine_grained_saliency(pixels))


def test_prob_decides_how_often_a_batch_is_mixed() -> None:
    images = spot_images([(6, 6), (20, 25), (12, 9), (26, 14)])
    never = make(prob=0.0)
    assert all(torch.all(never.sample(images).lam == 1) for _ in range(5))
    half = make(seed=1, prob=0.5, alpha=1.0)
    mixed = sum(bool(torch.any(half.sample(images).lam < 1)) for _ in range(100))
    assert 30 < mixed < 70
