"""Corrupted test sets: the CIFAR-C .npy layout, the ImageNet-C folder layout, generated sets,
missing files, and the aggregates on a hand-built table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.data import corruptions as C
from bench.data.base import DataError
from bench.evaluate import corruption as E
from tests.fixtures.corruptions import write_cifar_c, write_imagenet_c


def test_corruption_names_match_imagecorruptions() -> None:
    from imagecorruptions import get_corruption_names

    assert list(C.MAIN) == get_corruption_names("common")
    assert list(C.EXTRA) == get_corruption_names("validation")


def test_npy_release_rows_are_severity_major_blocks(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 200, (6, 3, 32, 32), dtype=np.uint8)
    labels = np.arange(6) % 3
    folder = write_cifar_c(tmp_path, "CIFAR-10-C", images, labels, shift=7)
    cset = C.NpyCorruptions(folder, source="fixture")
    assert cset.corruptions == C.ALL and cset.cell_size == 6 and cset.image_shape == (32, 32)
    k = C.ALL.index("fog")
    for s in C.SEVERITIES:
        batches = list(cset.batches("fog", s, batch_size=4))
        assert [len(b[0]) for b in batches] == [4, 2]
        got = np.concatenate([b[0] for b in batches])
        expected = ((images.transpose(0, 2, 3, 1).astype(int) + 7 * s + k) % 256).astype(np.uint8)
        assert np.array_equal(got, expected)
        assert np.array_equal(np.concatenate([b[1] for b in batches]), labels)
    subset = C.NpyCorruptions(folder, source="fixture", indices=np.array([1, 4]))
    ((got, lab),) = subset.batches("fog", 2, batch_size=8)
    assert np.array_equal(lab, labels[[1, 4]]) and got.shape == (2, 32, 32, 3)


def test_batches_run_across_cells_and_keep_each_images_cell(tmp_path: Path) -> None:
    images = np.random.default_rng(0).integers(0, 200, (3, 3, 32, 32), dtype=np.uint8)
    folder = write_cifar_c(tmp_path, "C", images, np.arange(3), shift=7)
    cset = C.NpyCorruptions(folder, source="fixture")
    batches = list(E.full_batches(cset, batch_size=4))
    assert [len(b[1]) for b in batches] == [4] * 71 + [1]  # 95 cells x 3 images = 285
    cells = np.concatenate([b[2] for b in batches])
    assert np.array_equal(cells, np.repeat(np.arange(95), 3))
    got = np.concatenate([b[0] for b in batches])
    expected = np.concatenate([cset.arrays[c][(s - 1) * 3 : s * 3] for c in C.ALL for s in C.SEVERITIES])
    assert np.array_equal(got, expected)


def test_missing_corruption_files_are_named(tmp_path: Path) -> None:
    images = np.zeros((2, 3, 32, 32), np.uint8)
    folder = write_cifar_c(
        tmp_path,
        "CIFAR-100-C",
        images,
        np.zeros(2),
        corruptions=[c for c in C.ALL if c not in ("fog", "snow")],
    )
    with pytest.raises(DataError, match=r"missing: snow\.npy, fog\.npy"):
        C.NpyCorruptions(folder, source="fixture")
    (folder / "labels.npy").unlink()
    with pytest.raises(DataError):
        C.NpyCorruptions(folder, source="fixture")


def test_an_extra_corruption_may_be_missing_then_cacc19_is_undefined(tmp_path: Path) -> None:
    images = np.zeros((2, 3, 32, 32), np.uint8)
    folder = write_cifar_c(
        tmp_path, "X", images, np.zeros(2), corruptions=[c for c in C.ALL if c != "spatter"]
    )
    cset = C.NpyCorruptions(folder, source="fixture")
    assert cset.missing == ("spatter",)


def test_release_reports_the_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"CIFAR-100-C.*not found.*--corruption-source generated"):
        C.release("cifar100", tmp_path, indices=None, classes=None)


def test_imagenet_c_folders_read_with_sorted_wnid_labels(tmp_path: Path) -> None:
    folder = write_imagenet_c(tmp_path, "Tiny-ImageNet-C", ["n02", "n01"], per_class=3, size=16)
    cset = C.release("tiny_imagenet", tmp_path, indices=None, classes=None)
    assert cset.corruptions == C.ALL and cset.cell_size == 6
    images, labels = (
        np.concatenate([b[0] for b in cset.batches("snow", 4, 4)]),
        np.concatenate([b[1] for b in cset.batches("snow", 4, 4)]),
    )
    assert images.shape == (6, 16, 16, 3) and images.dtype == np.uint8
    assert list(labels) == [0, 0, 0, 1, 1, 1]  # n01 first
    assert np.all(
        np.abs(images[:3, ..., 0].astype(int) - (40 * 1 + 10)) <= 3
    )  # n01 was written as class 1's colour
    assert np.all(np.abs(images[:, ..., 1].astype(int) - 20) <= 3)  # severity 4 -> green 20 (JPEG within 3)
    import shutil

    shutil.rmtree(folder / "zoom_blur" / "3")
    with pytest.raises(DataError, match=r"missing: zoom_blur/1\.\.5"):
        C.release("tiny_imagenet", tmp_path, indices=None, classes=None)


def test_prefetch_keeps_order_and_raises_in_the_consumer() -> None:
    assert list(C.prefetch(iter(range(50)), depth=2)) == list(range(50))

    def broken():
        yield 1
        raise DataError("disk gone")

    with pytest.raises(DataError, match="disk gone"):
        list(C.prefetch(broken()))


def _cells(acc: dict[str, list[float]], total: int = 100) -> E.Cells:
    return {
        c: {
            str(s): {"correct": round(a * total / 100), "total": total, "top1": a}
            for s, a in zip(C.SEVERITIES, accs)
        }
        for c, accs in acc.items()
    }


def test_aggregates_and_mce_on_a_hand_built_table() -> None:
    # every main corruption 60,50,40,30,20 (mean 40); the four extra 90 at every severity
    ours = _cells({**{c: [60, 50, 40, 30, 20] for c in C.MAIN}, **{c: [90] * 5 for c in C.EXTRA}})
    agg = E.aggregates(ours)
    assert agg["cacc15"] == pytest.approx(40.0)
    assert agg["cacc19"] == pytest.approx((15 * 5 * 40 + 4 * 5 * 90) / 95)  # pooled over 95 equal cells
    assert agg["per_corruption"]["fog"] == pytest.approx(40.0) and agg["per_corruption"][
        "saturate"
    ] == pytest.approx(90)
    # baseline errors: 50 everywhere -> CE_c = (40+50+60+70+80)/250 = 1.2 for every main corruption
    baseline = _cells({c: [50] * 5 for c in C.ALL})
    assert E.mce(ours, baseline) == pytest.approx(120.0)
    assert E.mce(baseline, baseline) == pytest.approx(100.0)
    # one main corruption twice as bad as the baseline, the rest equal -> (2 + 14)/15
    worse = _cells({c: ([0] * 5 if c == "fog" else [50] * 5) for c in C.ALL})
    assert E.mce(worse, baseline) == pytest.approx(100 * 16 / 15)
    no_extra = {c: v for c, v in ours.items() if c != "spatter"}
    assert E.aggregates(no_extra)["cacc19"] is None and E.aggregates(no_extra)["cacc15"] == pytest.approx(
        40.0
    )
