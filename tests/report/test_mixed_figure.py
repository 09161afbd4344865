"""bench.report.mixed_figure: photographs in, a print-sized figure out, each source's weight once."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from PIL import Image

from bench.errors import BenchError
from bench.report import mixed_figure
from bench.report.figures import PNG_DPI
from bench.report.mixed_figure import MixedCell, MixedRow, SourcePair


def test_repeated_sources_are_summed_in_order_of_first_appearance() -> None:
    weights = mixed_figure.summed_weights([0, 1, 0], [0.56, 0.05, 0.39], {0: "A", 1: "B"})
    assert [tag for tag, _ in weights] == ["A", "B"]
    assert weights[0][1] == pytest.approx(0.95) and weights[1][1] == pytest.approx(0.05)
    assert mixed_figure.weight_text(weights) == "0.95A + 0.05B"


@pytest.mark.parametrize(
    ("width", "cells", "per_row"), [(5.5, 14, 7), (3.25, 14, 4), (6.9, 14, 7), (5.5, 4, 4)]
)
def test_cells_per_row_fit_the_printed_width(width: float, cells: int, per_row: int) -> None:
    assert mixed_figure.cells_per_row(width, cells) == per_row
    assert width / per_row >= mixed_figure.CELL_MIN_IN


def test_a_file_is_centre_cropped_to_a_square(tmp_path: Path) -> None:
    wide = np.zeros((40, 100, 3), np.uint8)
    wide[:, 30:70] = 255  # the centre square is white, the sides black
    Image.fromarray(wide).save(tmp_path / "wide.png")
    square = mixed_figure.load_photo(str(tmp_path / "wide.png"), 16)
    assert square.shape == (16, 16, 3) and square.min() > 200


def test_bundled_photographs_load_and_unknown_names_list_them() -> None:
    pytest.importorskip("skimage")
    assert mixed_figure.load_photo("chelsea", 32).shape == (32, 32, 3)
    with pytest.raises(BenchError, match=r"no such file, nor a photograph bundled.*chelsea, coffee"):
        mixed_figure.load_photo("chelsie", 32)


def test_images_come_in_pairs() -> None:
    with pytest.raises(BenchError, match="in pairs"):
        mixed_figure.check_pairs(["a.jpg", "b.jpg", "c.jpg"])


def test_the_figure_is_drawn_at_its_printed_width_in_every_format(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    image = lambda: rng.random((24, 24, 3))  # noqa: E731
    pairs = [SourcePair(image(), image(), "cat", "cup")]
    note = ["mixed after layer1"]
    rows = [
        MixedRow(f"Method{i}", [MixedCell(image(), [("A", 0.6), ("B", 0.4)], note[0] if i == 0 else "")])
        for i in range(12)
    ]
    paths = mixed_figure.draw(
        pairs, rows, "a caption", tmp_path / "mixed.png", width=5.5, formats=("png", "svg")
    )
    assert [p.name for p in paths] == ["mixed.png", "mixed.svg"]
    picture = matplotlib.image.imread(paths[0])
    assert picture.shape[1] == round(5.5 * PNG_DPI)
    assert b"<svg" in paths[1].read_bytes()[:1000]
    assert mixed_figure.method_notes(rows) == ["Method0: mixed after layer1."]
