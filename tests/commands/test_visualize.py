"""`bench visualize`: the same pairs mixed by every method, as a print-sized figure, from the CLI."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import torch
from PIL import Image

from bench import registry
from bench.cli import main
from bench.report.figures import PNG_DPI
from tests.fixtures.cifar import write_cifar10


def test_draws_every_method_on_synthetic_data(project: Path, capsys: pytest.CaptureFixture) -> None:
    out = project / "figs" / "mixed.png"
    args = [
        "visualize",
        "--dataset",
        "synthetic",
        "--samples",
        "2",
        "--image-size",
        "32",
        "--train-steps",
        "2",
    ]
    assert main([*args, "--out", str(out), "--width", "5.5"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    picture = matplotlib.image.imread(out)
    cells = len(registry.METHODS) - 1 + 2  # every method but vanilla, and the two sources
    rows = 2 * -(-cells // 7)  # two pairs, 7 cells a row at 5.5 in
    height, width = picture.shape[:2]
    assert width == round(5.5 * PNG_DPI) and height > rows * width / 7


def test_photographs_by_default_and_the_users_own(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    pytest.importorskip("skimage")
    fast = ["--methods", "cutmix,mixup", "--train-steps", "0", "--image-size", "32"]
    assert main(["visualize", *fast, "--format", "png,svg"]) == 0
    written = [project / "reports" / "figures" / f"mixed.{fmt}" for fmt in ("png", "svg")]
    assert all(path.stat().st_size > 10_000 for path in written)
    assert str(written[0]) in capsys.readouterr().out
    for name in ("a", "b"):
        Image.fromarray(np.full((30, 50, 3), 90 if name == "a" else 200, np.uint8)).save(
            tmp_path / f"{name}.jpg"
        )
    own = project / "own.png"
    images = [str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg")]
    assert main(["visualize", *fast, "--images", *images, "--out", str(own)]) == 0
    assert matplotlib.image.imread(own).ndim == 3
    assert main(["visualize", *fast, "--images", images[0], "--out", str(own)]) == 2
    assert "in pairs" in capsys.readouterr().err


def test_repeated_sources_of_adautomix_are_summed_in_the_figure(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.commands import visualize

    rows, drawn = [], []
    original = visualize._figure_row

    def spy(job, cells, spec):
        drawn.extend(len(sources) for _, sources, _, _ in cells)  # before summing
        rows.append(original(job, cells, spec))
        return rows[-1]

    monkeypatch.setattr(visualize, "_figure_row", spy)
    assert main(["visualize", "--methods", "adautomix", "--dataset", "synthetic", "--samples", "2",
                 "--image-size", "32", "--train-steps", "0", "--out", str(project / "a.png")]) == 0  # fmt: skip
    assert drawn == [3, 3]  # AdAutoMix's CIFAR default mixes N = 3 draws from the pair
    (row,) = rows
    for cell in row.cells:  # N = 3 draws from a pair: A and B, each once, summing to 1
        tags = [tag for tag, _ in cell.weights]
        assert len(tags) == len(set(tags)) and set(tags) <= {"A", "B"}
        assert sum(w for _, w in cell.weights) == pytest.approx(1.0, abs=1e-5)


def test_reads_a_real_dataset_release(project: Path) -> None:
    write_cifar10(project / "data", per_batch=10, test=20)
    out = project / "cifar.png"
    assert main(["visualize", "--methods", "cutmix,resizemix", "--dataset", "cifar10", "--samples", "3",
                 "--train-steps", "0", "--out", str(out)]) == 0  # fmt: skip
    assert matplotlib.image.imread(out).ndim == 3


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--methods", "mixupp"], ["unknown method 'mixupp'", "did you mean 'mixup'"]),
        (["--dataset", "cifar100"], ["dataset 'cifar100' not found", "Expected layout"]),
        (
            ["--methods", "puzzlemix", "--image-size", "24"],
            ["puzzlemix cannot be shown at 24 px", "block_nums"],
        ),
        (["--alpha", "0"], ["--alpha must be > 0"]),
    ],
)
def test_user_errors_exit_2_with_a_message(
    project: Path, capsys: pytest.CaptureFixture, args: list[str], words: list[str]
) -> None:
    assert main(["visualize", *args, "--out", str(project / "x.png")]) == 2
    message = capsys.readouterr().err
    for word in words:
        assert word in message
    assert not (project / "x.png").exists()


def test_reads_an_image_folder_release(project: Path, releases: Path) -> None:
    """Image files of any size: the pairs and the briefly trained model go through the data pipeline."""
    out = project / "cub.png"
    assert main(["visualize", "--methods", "cutmix", "--dataset", "cub200", "--samples", "2", "--image-size",
                 "32", "--train-steps", "2", "--data-root", str(releases), "--out", str(out)]) == 0  # fmt: skip
    assert matplotlib.image.imread(out).ndim == 3


def test_a_learned_mixer_is_drawn_with_a_trained_mix_block(project: Path, monkeypatch) -> None:
    """With --train-steps, AutoMix's Mix Block trains with a copy of the classifier before it mixes."""
    from bench.commands import visualize

    blocks = []
    original = visualize._train

    def spy(built, *args, **kwargs):
        extra_groups = built.method.param_groups()
        before = [p.detach().clone() for g in extra_groups for p in g["params"]]
        original(built, *args, **kwargs)
        after = [p.detach() for g in extra_groups for p in g["params"]]
        blocks.append((before, after))

    monkeypatch.setattr(visualize, "_train", spy)
    out = project / "learned.png"
    assert main(["visualize", "--methods", "mixup,automix", "--dataset", "synthetic", "--samples", "1",
                 "--image-size", "32", "--train-steps", "2", "--out", str(out)]) == 0  # fmt: skip
    vanilla, automix = blocks  # the shared classifier, then AutoMix's own training
    assert vanilla == ([], [])
    before, after = automix
    assert before and any(not torch.equal(b, a) for b, a in zip(before, after))  # the Mix Block moved
