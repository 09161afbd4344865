"""The in-memory loader: deterministic batched augmentation, normalisation, batching."""

from __future__ import annotations

import torch

from bench.data.base import ImageSet
from bench.data.loader import InMemoryLoader
from bench.data.synthetic import generate
from bench.data.transforms import PadCropFlip, build

CROP_FLIP = build("crop_flip", 8, interpolation="bicubic", eval_crop=None)
NONE = build("none", 8, interpolation="bicubic", eval_crop=None)


def _set(n: int = 10, size: int = 8) -> ImageSet:
    g = torch.Generator().manual_seed(0)
    return ImageSet(
        torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8), torch.arange(n) % 3
    )


def test_crop_flip_equals_per_sample_reference() -> None:
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).reshape(2, 3, 6, 6)
    crop = PadCropFlip(padding=2)
    out = crop.batch(x, crop.sample(2, torch.Generator().manual_seed(4)))
    g = torch.Generator().manual_seed(4)
    offsets = torch.randint(0, 5, (2, 2), generator=g)
    flips = torch.rand(2, generator=g) < 0.5
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")
    for i in range(2):
        oy, ox = offsets[i].tolist()
        ref = padded[i, :, oy : oy + 6, ox : ox + 6]
        ref = ref.flip(2) if flips[i] else ref
        assert torch.equal(out[i], ref)


def test_training_batches_are_reproducible_and_cover_the_split() -> None:
    data = _set(10)

    def epoch(seed: int) -> list[torch.Tensor]:
        loader = InMemoryLoader(
            data,
            batch_size=4,
            mean=(0.5,) * 3,
            std=(0.25,) * 3,
            device=torch.device("cpu"),
            train=True,
            transform=CROP_FLIP,
            generator=torch.Generator().manual_seed(seed),
        )
        return [torch.cat([x.flatten(), y.float()]) for x, y in loader]

    assert len(epoch(0)) == 2  # drop_last: 10 // 4
    assert all(torch.equal(a, b) for a, b in zip(epoch(0), epoch(0)))
    assert not all(torch.equal(a, b) for a, b in zip(epoch(0), epoch(1)))


def test_test_batches_are_in_order_normalised_and_complete() -> None:
    data = _set(10)
    loader = InMemoryLoader(
        data,
        transform=NONE,
        batch_size=4,
        mean=(0.5,) * 3,
        std=(0.25,) * 3,
        device=torch.device("cpu"),
        train=False,
    )
    batches = list(loader)
    assert [len(y) for _, y in batches] == [4, 4, 2]
    images = torch.cat([x for x, _ in batches])
    torch.testing.assert_close(images, (data.images.float() / 255 - 0.5) / 0.25)


def test_synthetic_data_is_fixed_and_learnable_but_not_trivial() -> None:
    a, b = generate("train", 16), generate("train", 16)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert a.images.shape == (2048, 3, 16, 16) and sorted(a.labels.unique().tolist()) == list(range(10))
    assert not torch.equal(generate("test", 16).images[:10], a.images[:10])
    # class means differ (learnable) ...
    means = torch.stack([a.images[a.labels == c].float().mean(0) for c in range(10)])
    assert (means - means.mean(0)).abs().mean() > 3
    # ... and 10% label noise caps accuracy well below 100%
    assert generate("train", 32).images.shape[-1] == 32
