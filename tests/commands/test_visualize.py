"""`bench visualize`: a PNG grid of the same pairs mixed by every method, from the CLI."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import pytest
import torch

from bench import registry
from bench.cli import main
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
    assert main([*args, "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    picture = matplotlib.image.imread(out)
    rows, columns = len(registry.METHODS) - 1 + 2, 2  # every method but vanilla, and the two sources
    height, width = picture.shape[:2]
    assert picture.ndim == 3 and height / width > 0.6 * rows / columns


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
