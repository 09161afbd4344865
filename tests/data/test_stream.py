"""The two loading paths: the in-memory loader and the DataLoader with workers yield the same
batches for the same seed, and leave the job's generator in the same state."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bench import registry, runtime
from bench.data.base import DataError
from bench.data.pipeline import build_loaders
from bench.recipe import Recipe
from bench.settings import DataSettings, RunSettings, Settings
from tests.conftest import copy_release


def settings(root: Path, tmp: Path, workers: int) -> Settings:
    return Settings(data=DataSettings(root=str(root), workers=workers, cache=False), base_dir=str(tmp))


def epochs(name: str, root: Path, tmp: Path, loading: str, workers: int, recipe: Recipe, n: int = 2):
    """Every batch of n epochs (train and test) and the generator's state after them."""
    rt = runtime.resolve(RunSettings(device="cpu"))
    gen = torch.Generator().manual_seed(7)
    dataset = registry.get("datasets", name).load()
    train, test, _ = build_loaders(dataset, recipe, settings(root, tmp, workers), rt, gen, loading=loading)
    batches = [batch for _ in range(n) for loader in (train, test) for batch in loader]
    return batches, gen.get_state()


def assert_same(a, b) -> None:
    (batches_a, state_a), (batches_b, state_b) = a, b
    assert len(batches_a) == len(batches_b) > 0
    for (xa, ya), (xb, yb) in zip(batches_a, batches_b):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert torch.equal(state_a, state_b)


def test_cifar_crop_flip_is_identical_in_memory_and_through_workers(releases: Path, tmp_path: Path) -> None:
    recipe = Recipe(batch_size=16, image_size=32, augmentation="crop_flip")
    memory = epochs("cifar10", releases, tmp_path, "memory", 0, recipe)
    assert_same(memory, epochs("cifar10", releases, tmp_path, "stream", 2, recipe))
    first, second = memory[0][0][0], memory[0][2 * len(memory[0]) // 4][0]  # epochs differ
    assert not torch.equal(first, second)


def test_tiny_imagenet_random_resized_crop_is_identical_in_memory_and_through_workers(
    releases: Path, tmp_path: Path
) -> None:
    recipe = Recipe(batch_size=32, image_size=40, augmentation="rrc_flip", train_fraction=0.5)
    memory = epochs("tiny_imagenet", releases, tmp_path, "memory", 0, recipe)
    assert memory[0][0][0].shape == (32, 3, 40, 40)
    assert_same(memory, epochs("tiny_imagenet", releases, tmp_path, "stream", 2, recipe))


def test_the_number_of_workers_does_not_change_the_batches(releases: Path, tmp_path: Path) -> None:
    recipe = Recipe(batch_size=16, image_size=24, augmentation="resize_rrc_flip", test_fraction=0.5)
    one = epochs("cub200", releases, tmp_path, "stream", 0, recipe, n=1)
    assert one[0][0][0].shape == (16, 3, 24, 24)
    assert_same(one, epochs("cub200", releases, tmp_path, "stream", 2, recipe, n=1))


def test_training_drops_the_ragged_batch_and_testing_keeps_it(releases: Path, tmp_path: Path) -> None:
    recipe = Recipe(batch_size=64, image_size=16, augmentation="flip")
    rt = runtime.resolve(RunSettings(device="cpu"))
    dataset = registry.get("datasets", "fgvc_aircraft").load()
    train, test, sizes = build_loaders(
        dataset, recipe, settings(releases, tmp_path, 1), rt, torch.Generator()
    )
    assert sizes == {"train": 100, "test": 100}
    assert [len(y) for _, y in train] == [64] and len(train) == 1
    assert [len(y) for _, y in test] == [64, 36] and len(test) == 2


def test_an_unreadable_image_in_a_worker_is_a_clean_data_error(releases: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    folder = copy_release(releases, "stanford_cars", data)
    (folder / "cars_test" / "00002.jpg").write_bytes(b"not a jpeg")
    recipe = Recipe(batch_size=8, image_size=16, augmentation="none")
    rt = runtime.resolve(RunSettings(device="cpu"))
    dataset = registry.get("datasets", "stanford_cars").load()
    _, test, _ = build_loaders(dataset, recipe, settings(data, tmp_path, 2), rt, torch.Generator())
    with pytest.raises(DataError) as info:
        list(test)
    assert str(info.value).startswith(f"{folder / 'cars_test' / '00002.jpg'}: unreadable image")
    assert "Traceback" not in str(info.value)
