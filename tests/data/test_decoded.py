"""The decoded-image cache: written once and atomically, keyed by the source files, never partial."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from bench import registry
from bench.data import decoded
from bench.data.base import DataError
from tests.conftest import copy_release


@pytest.fixture
def tiny(releases: Path, tmp_path: Path) -> Path:
    root = tmp_path / "data"
    copy_release(releases, "tiny-imagenet-200", root)
    return root


def index(root: Path, split: str = "test"):
    return registry.get("datasets", "tiny_imagenet").load().load(root, split)


def test_cache_is_written_once_and_reused(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = decoded.cached(index(tiny), cache, "tiny_imagenet", "test")
    files = list(cache.iterdir())
    assert len(files) == 1 and files[0].name.startswith("tiny_imagenet-test-")
    assert first.images.shape == (200, 3, 64, 64) and first.images.dtype == torch.uint8
    assert not [f for f in cache.iterdir() if f.name.endswith(".tmp")]

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again despite a valid cache")

    monkeypatch.setattr(decoded, "decode_all", no_decoding)
    again = decoded.cached(index(tiny), cache, "tiny_imagenet", "test")
    assert torch.equal(again.images, first.images) and torch.equal(again.labels, first.labels)
    assert again.classes == first.classes


def test_decoded_pixels_are_the_pil_rgb_pixels(tiny: Path) -> None:
    import numpy as np

    data = index(tiny)
    images = decoded.decode_all(data, threads=2).images
    for i in (0, 7, 199):
        assert np.array_equal(images[i].permute(1, 2, 0).numpy(), np.asarray(data.pil(i)))


def test_a_changed_source_file_gives_a_new_key(tiny: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    decoded.cached(index(tiny), cache, "tiny_imagenet", "test")
    image = index(tiny).path(3)
    stat = image.stat()
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    decoded.cached(index(tiny), cache, "tiny_imagenet", "test")
    assert len(list(cache.iterdir())) == 2  # the stale one is left alone, never read


def test_nothing_is_cached_when_an_image_fails(tiny: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    data = index(tiny)
    data.path(150).write_bytes(data.path(150).read_bytes()[:100])
    with pytest.raises(DataError, match=r"val_150\.JPEG: unreadable image"):
        decoded.cached(data, cache, "tiny_imagenet", "test")
    assert not cache.exists() or not list(cache.iterdir())


def test_an_image_of_another_size_is_named(tiny: Path) -> None:
    from tests.fixtures.releases import jpeg

    data = index(tiny)
    jpeg(data.path(5), 32, 64, seed=0)
    with pytest.raises(DataError, match=r"val_5\.JPEG: 32x64 pixels, but this dataset's images are 64x64"):
        decoded.decode_all(data)


def test_a_corrupt_cache_file_is_rebuilt(tiny: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    good = decoded.cached(index(tiny), cache, "tiny_imagenet", "test")
    (path,) = cache.iterdir()
    path.write_bytes(b"garbage")
    again = decoded.cached(index(tiny), cache, "tiny_imagenet", "test")
    assert torch.equal(again.images, good.images)
    assert path.stat().st_size > 1000


def test_cache_location_and_workers_come_from_settings(tmp_path: Path) -> None:
    from bench import schema
    from bench.data.pipeline import loader_workers
    from bench.errors import ConfigError
    from bench.settings import Settings

    def settings(paths: dict | None = None, **data) -> Settings:
        return schema.build(Settings, {"data": data, "paths": paths or {}, "base_dir": str(tmp_path)})

    assert settings().decoded_cache_dir == tmp_path / "results" / "cache" / "decoded"
    assert settings(cache=False).decoded_cache_dir is None
    assert settings({"cache": "/scratch/c"}).decoded_cache_dir == Path("/scratch/c/decoded")
    assert loader_workers(settings(workers=3)) == 3
    assert 1 <= loader_workers(settings()) <= 8
    with pytest.raises(ConfigError, match="workers must be >= 0, or -1 for automatic, got -2"):
        settings(workers=-2)
