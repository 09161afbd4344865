"""Generated corrupted sets: deterministic, every image checked, blank images redrawn with the next
seed of their own sequence (imagecorruptions' spatter divides by zero on small images), warnings
counted, and a set refused when an image stays blank."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from bench.data import corruptions as C
from bench.data import corruptions_generated as G
from bench.data.base import DataError


def test_all_19_corruptions_at_all_5_severities_generate_deterministically(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (2, 3, 32, 32), dtype=np.uint8)
    small = rng.integers(0, 256, (1, 3, 16, 16), dtype=np.uint8)  # below the package's 32 px minimum
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = G.generated(images, np.array([3, 7]), tmp_path / "a", seed=0)
    assert np.array_equal(np.random.get_state()[1], before)  # the global RNG is left as it was
    b = G.generated(images, np.array([3, 7]), tmp_path / "b", seed=0)
    c = G.generated(images, np.array([3, 7]), tmp_path / "c", seed=1)
    assert a.generated and a.source == G.GENERATED_LABEL and a.corruptions == C.ALL and a.cell_size == 2
    clean = images.transpose(0, 2, 3, 1)
    for name in C.ALL:
        assert np.array_equal(a.arrays[name], b.arrays[name]), name
        for s in C.SEVERITIES:
            block = a.arrays[name][(s - 1) * 2 : s * 2]
            assert block.shape == (2, 32, 32, 3) and not np.array_equal(block, clean), (name, s)
    assert any(
        not np.array_equal(a.arrays[n], c.arrays[n])
        for n in ("gaussian_noise", "glass_blur", "impulse_noise")
    )
    assert list(a.labels) == [3, 7] * 5
    tiny = G.generated(small, np.array([1]), tmp_path / "tiny", seed=0)
    assert tiny.image_shape == (16, 16) and tiny.notes["padding"].startswith(
        "reflect-padded by 8 px per side"
    )


def test_spatter_black_image_is_redrawn_with_the_next_seed_and_counted() -> None:
    import imagecorruptions

    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    entropy = [0, C.ALL.index("spatter"), 1, 17]  # a seed whose liquid layer has no pixel above threshold
    np.random.seed(int(np.random.SeedSequence(entropy).generate_state(1)[0]))
    with pytest.warns(RuntimeWarning):
        plain = imagecorruptions.corrupt(image, severity=1, corruption_name="spatter")
    assert plain.max() == 0  # the package's own answer: a black image

    counter: Counter = Counter()
    result, attempts = G._checked(imagecorruptions, image, "spatter", 1, entropy, counter)
    assert attempts == 1 and result.max() > 0 and result.min() != result.max()
    assert counter["RuntimeWarning: invalid value encountered in divide"] == 1
    np.random.seed(int(np.random.SeedSequence([*entropy, 1]).generate_state(1)[0]))
    assert np.array_equal(result, imagecorruptions.corrupt(image, severity=1, corruption_name="spatter"))


def _fake_package(bad: set[tuple[int, int]]) -> SimpleNamespace:
    """Every corruption returns the image + 1, except that (severity, draw) pairs in `bad` return NaN
    (with a warning) for the first draw of image 0; `draw` counts calls per (corruption, severity)."""
    calls: dict = {}

    def make(name: str):
        def corrupt(pil, severity, **kwargs):
            import warnings

            key = (name, severity)
            calls[key] = calls.get(key, 0) + 1
            if (severity, calls[key]) in bad:
                warnings.warn("invalid value encountered in divide", RuntimeWarning, stacklevel=1)
                return np.full(np.asarray(pil).shape, np.nan)
            return np.asarray(pil).astype(np.float64) + 1

        return corrupt

    return SimpleNamespace(corruption_dict={name: make(name) for name in C.ALL})


def test_generation_records_regenerated_images_and_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(G, "_import", lambda: _fake_package({(2, 1), (5, 1)}))
    images = np.random.default_rng(3).integers(0, 200, (3, 3, 32, 32), dtype=np.uint8)
    cset = G.generated(images, np.array([0, 1, 2]), tmp_path, seed=0)
    assert cset.notes["regenerated"] == {f"{name}/{s}": 1 for name in C.ALL for s in ("2", "5")}
    assert cset.notes["warnings"] == {  # ours, then the uint8 cast's (as imagecorruptions casts)
        f"{name}: RuntimeWarning: invalid value encountered in {what}": 2
        for name in C.ALL
        for what in ("divide", "cast")
    }
    clean = images.transpose(0, 2, 3, 1)
    for name in C.ALL:  # the redrawn image is the second draw's, every other the first's
        assert np.array_equal(cset.arrays[name], np.concatenate([clean + 1] * 5)), name


def test_an_image_that_stays_blank_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(G, "_import", lambda: _fake_package({(1, k) for k in range(1, 20)}))
    images = np.random.default_rng(3).integers(0, 200, (2, 3, 32, 32), dtype=np.uint8)
    with pytest.raises(DataError, match=r"gaussian_noise severity 1 of test image 0 with 10 seeds in a row"):
        G.generated(images, np.array([0, 1]), tmp_path, seed=0)
    assert not list(tmp_path.rglob("gaussian_noise.npy"))  # nothing half-made is left to be read


def test_a_flat_clean_image_may_stay_flat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(G, "_import", lambda: _fake_package(set()))
    images = np.full((1, 3, 32, 32), 7, dtype=np.uint8)  # brightness on a flat image is flat: not an error
    cset = G.generated(images, np.array([0]), tmp_path, seed=0)
    assert cset.notes["regenerated"] == {} and int(cset.arrays["brightness"][0].max()) == 8


def test_a_set_being_generated_elsewhere_is_waited_for_not_generated_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from bench import locks

    monkeypatch.setattr(G, "_import", lambda: _fake_package(set()))
    images = np.random.default_rng(3).integers(0, 200, (1, 3, 32, 32), dtype=np.uint8)
    first = G.generated(images, np.array([0]), tmp_path, seed=0)  # the folder exists now
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    other = locks.JobLock(folder)  # "another process" generating the same set
    assert other.acquire()
    waits: list[float] = []
    real_sleep = G.time.sleep

    def sleep(seconds: float) -> None:  # the other process finishes while we wait
        if seconds != G.LOCK_POLL_SECONDS:
            return real_sleep(seconds)  # the lock's own retries
        waits.append(seconds)
        other.release()

    monkeypatch.setattr(G.time, "sleep", sleep)
    again = G.generated(images, np.array([0]), tmp_path, seed=0)
    assert (
        waits == [G.LOCK_POLL_SECONDS] and "waiting for another process generating" in capsys.readouterr().err
    )
    assert np.array_equal(again.arrays["fog"], first.arrays["fog"])


def test_generation_resumes_file_by_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A corruption whose checks and file are both written is not generated again; one whose file
    is missing is."""
    monkeypatch.setattr(G, "_import", lambda: _fake_package(set()))
    images = np.random.default_rng(3).integers(0, 200, (2, 3, 32, 32), dtype=np.uint8)
    G.generated(images, np.array([0, 1]), tmp_path, seed=0)
    (folder,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    (folder / "fog.npy").unlink()
    calls: list[str] = []
    package = _fake_package(set())

    def counted(name: str, function):
        def call(*args, **kwargs):
            calls.append(name)
            return function(*args, **kwargs)

        return call

    package.corruption_dict = {name: counted(name, f) for name, f in package.corruption_dict.items()}
    monkeypatch.setattr(G, "_import", lambda: package)
    G.generated(images, np.array([0, 1]), tmp_path, seed=0)
    assert set(calls) == {"fog"} and len(calls) == 2 * 5  # two images, five severities
