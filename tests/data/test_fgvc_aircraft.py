"""FGVC-Aircraft 2013b read from a fixture in the release's format, and its failure modes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.data.base import DataError
from tests.conftest import copy_release
from tests.fixtures.releases import spec


def test_fgvc_uses_the_release_class_numbering(releases: Path) -> None:
    fgvc = spec("fgvc_aircraft").load(releases, "test")
    listed = (releases / "fgvc-aircraft-2013b/data/images_variant_test.txt").read_text().splitlines()[0]
    assert fgvc.classes[int(fgvc.labels[0])] == listed.split(" ", 1)[1]


def test_a_missing_image_is_counted_and_named(releases: Path, tmp_path: Path) -> None:
    folder = copy_release(releases, "fgvc-aircraft-2013b", tmp_path)
    victim = sorted((folder / "data" / "images").iterdir())[0]
    victim.unlink()
    with pytest.raises(
        DataError,
        match=rf"images_variant_trainval\.txt: 1 of the 100 images it lists are missing.*{victim.name}",
    ):
        spec("fgvc_aircraft").load(tmp_path, "train")


def test_fgvc_unknown_variant_and_wrong_class_count(releases: Path, tmp_path: Path) -> None:
    folder = copy_release(releases, "fgvc-aircraft-2013b", tmp_path)
    listing = folder / "data" / "images_variant_test.txt"
    rows = listing.read_text().splitlines()
    rows[1] = rows[1].split(" ")[0] + " Boeing 999"
    listing.write_text("\n".join(rows) + "\n")
    with pytest.raises(
        DataError,
        match=r"images_variant_test\.txt:2: variant 'Boeing 999' of image \d+ is not in variants\.txt",
    ):
        spec("fgvc_aircraft").load(tmp_path, "test")
    variants = folder / "data" / "variants.txt"
    variants.write_text("".join(line + "\n" for line in variants.read_text().splitlines()[:70]))
    with pytest.raises(DataError, match=r"variants\.txt: 70 distinct variants, but fgvc_aircraft has 100"):
        spec("fgvc_aircraft").load(tmp_path, "train")
