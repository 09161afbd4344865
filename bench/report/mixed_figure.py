"""The figure of `bench visualize`: the same pairs of images mixed by every method, sized for print.

Inputs are real photographs by default, because a mix of two objects shows at a glance what a
method does to an object (a pasted box, a blob, a shrunken copy, a blend, moved blocks, a learned
mask): scikit-image's bundled photographs (`chelsea`, a cat; `coffee`, a cup; `astronaut`;
`rocket`; licensed for reuse, each one's source and licence in skimage.data's documentation), or
the user's own files. Each is centre-cropped to a square and resized with antialiasing.

Layout: one block per pair, each block the two sources (A, B) and then one cell per method, in
rows of as many cells as fit the figure's width at a legible size. The figure is drawn at the
size it will be printed (`width`, in inches: 5.5 is the text column of ICLR and NeurIPS, 3.25 a
column of a two-column paper, 6.9 the full width of one), with all text at 7 pt, so it stays
legible when placed at that width. Under each mixed image, its label weights with each source's
share summed (AdAutoMix mixes N = 3 draws from a pair, so one source may come twice).
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.errors import BenchError
from bench.report import figures

# scikit-image's colour photographs of objects (skimage.data.<name>()), all bundled with the wheel.
BUNDLED = ("chelsea", "coffee", "astronaut", "rocket", "hubble_deep_field", "immunohistochemistry")
DEFAULT_PHOTOS = ("chelsea", "coffee", "astronaut", "rocket")  # pairs: cat + cup, astronaut + rocket
FONT_PT = 7.0  # the smallest size most venues accept in figures
CELL_MIN_IN = 0.76  # narrowest cell whose weights ("0.56 A + 0.44 B" at 7 pt) fit under it
TEXT_IN = FONT_PT / 72 * 1.35  # height of one line of text, with its leading
TAGS = "AB"


@dataclass(frozen=True)
class MixedCell:
    image: np.ndarray  # (H, W, 3) in [0, 1]
    weights: list[tuple[str, float]]  # (source tag, label weight), each source once
    note: str = ""  # what the picture shows when it is not the network's input


@dataclass(frozen=True)
class MixedRow:
    method: str  # as printed
    cells: list[MixedCell]  # one per pair


@dataclass(frozen=True)
class SourcePair:
    a: np.ndarray
    b: np.ndarray
    a_name: str
    b_name: str


# --- inputs ---------------------------------------------------------------------------------


def load_photo(source: str, size: int) -> np.ndarray:
    """A square (size, size, 3) uint8 image: a file, or the name of a bundled photograph."""
    from PIL import Image, UnidentifiedImageError

    path = Path(source)
    if path.is_file():
        try:
            with Image.open(path) as opened:
                image = opened.convert("RGB")
        except (UnidentifiedImageError, OSError) as exc:
            raise BenchError(f"--images {source}: not an image PIL can read ({exc})") from None
    elif source in BUNDLED:
        image = Image.fromarray(_bundled(source)).convert("RGB")
    else:
        raise BenchError(
            f"--images {source}: no such file, nor a photograph bundled with scikit-image "
            f"(bundled: {', '.join(BUNDLED)})"
        )
    return square(image, size)


def _bundled(name: str) -> np.ndarray:
    try:
        import skimage.data
    except ImportError:
        raise BenchError(
            "the default photographs come with scikit-image: pip install -e '.[visualize]' "
            "(or pass your own with --images a.jpg b.jpg, or --dataset NAME for a dataset's images)"
        ) from None
    return getattr(skimage.data, name)()


def square(image, size: int) -> np.ndarray:
    """The centred square of a PIL image, resized to `size` with antialiasing."""
    from PIL import Image

    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    crop = image.crop((left, top, left + side, top + side))
    return np.asarray(crop.resize((size, size), Image.Resampling.LANCZOS), dtype=np.uint8)


def photo_names(sources: list[str]) -> list[str]:
    """How each source is named in the figure: a file's stem, a bundled photo's name."""
    return [Path(s).stem if Path(s).is_file() else s for s in sources]


def check_pairs(sources: list[str]) -> None:
    if len(sources) < 2 or len(sources) % 2:
        raise BenchError(
            f"--images: give images in pairs (A1 B1 A2 B2 ...), got {len(sources)}: {' '.join(sources)}"
        )


# --- label weights --------------------------------------------------------------------------


def summed_weights(sources: list[int], weights: list[float], tags: dict[int, str]) -> list[tuple[str, float]]:
    """Each source's label weight summed over its draws, in order of first appearance:
    sources [0, 1, 0] with weights [0.56, 0.05, 0.39] -> [("A", 0.95), ("B", 0.05)]."""
    total: dict[str, float] = {}
    for source, weight in zip(sources, weights):
        tag = tags.get(source, str(source))
        total[tag] = total.get(tag, 0.0) + weight
    return list(total.items())


def weight_text(weights: list[tuple[str, float]]) -> str:
    """`0.56A + 0.44B`: compact enough to sit under a cell of CELL_MIN_IN at 7 pt."""
    return " + ".join(f"{w:.2f}{tag}" for tag, w in weights)


# --- layout and drawing ---------------------------------------------------------------------


def cells_per_row(width: float, cells: int) -> int:
    """As many cells per row as the width holds at CELL_MIN_IN, spread evenly over the rows."""
    fit = max(2, int(width // CELL_MIN_IN))
    rows = math.ceil(cells / fit)
    return math.ceil(cells / rows)


def method_notes(rows: list[MixedRow]) -> list[str]:
    """One caption line per method whose pictures are not plain inputs (ManifoldMix, the learned
    mixers), naming the pairs when the note differs between them."""
    lines = []
    for row in rows:
        notes = [c.note for c in row.cells]
        if not any(notes):
            continue
        if len(set(notes)) == 1:
            lines.append(f"{row.method}: {notes[0]}.")
        else:
            lines.append(" ".join(f"{row.method} (pair {i + 1}): {n}." for i, n in enumerate(notes) if n))
    return lines


def draw(
    pairs: list[SourcePair],
    rows: list[MixedRow],
    caption: str,
    path: Path,
    *,
    width: float = 5.5,
    formats: tuple[str, ...] = ("png",),
) -> list[Path]:
    """Draw the figure at `width` inches and save it in each format; returns the paths."""
    from matplotlib.figure import Figure

    n_cells = 2 + len(rows)
    per_row = cells_per_row(width, n_cells)
    grid_rows = math.ceil(n_cells / per_row)
    cell = width / per_row
    row_height = cell + 2 * TEXT_IN + 0.03
    notes = method_notes(rows)
    chars = int(width * 72 / (FONT_PT * 0.6))  # DejaVu Sans averages about 0.55 em a character
    caption_lines = [line for text in [caption, *notes] for line in textwrap.wrap(text, chars)]
    caption_height = TEXT_IN * (len(caption_lines) + 0.6)
    gap = 0.12  # between pairs
    height = len(pairs) * grid_rows * row_height + (len(pairs) - 1) * gap + caption_height
    fig = Figure(figsize=(width, height))
    for p, pair in enumerate(pairs):
        top = height - p * (grid_rows * row_height + gap)
        entries = [
            (f"A{p + 1}: {pair.a_name}", pair.a, ""),
            (f"B{p + 1}: {pair.b_name}", pair.b, ""),
            *((row.method, row.cells[p].image, weight_text(row.cells[p].weights)) for row in rows),
        ]
        for i, (title, image, below) in enumerate(entries):
            r, c = divmod(i, per_row)
            y = top - r * row_height - TEXT_IN - cell
            ax = fig.add_axes(
                (c * cell / width + 0.01 / width, y / height, (cell - 0.02) / width, cell / height)
            )
            ax.imshow(image, interpolation="lanczos" if image.shape[0] < 200 else "antialiased")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_linewidth(0.4)
            ax.set_title(title, fontsize=FONT_PT, pad=1.5, fontweight="bold" if i >= 2 else "normal")
            if below:
                ax.text(0.5, -0.03, below, transform=ax.transAxes, ha="center", va="top", fontsize=FONT_PT)
    fig.text(0.01, 0.2 * TEXT_IN / height, "\n".join(caption_lines), ha="left", va="bottom", fontsize=FONT_PT)
    return figures.save(fig, path, formats)
