"""Local ImageNet weights for `recipe.pretrained`: loaded without the classifier, refused clearly,
and checked before any job of a suite starts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch

from bench import records
from bench.cli import main
from bench.models import pretrained
from bench.models.backbones import build_backbone
from tests.conftest import write_suite


def backbone(num_classes: int, image_size: int = 224, seed: int = 0, **kw) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_backbone("tiny_resnet", num_classes=num_classes, image_size=image_size, **kw)


def save_imagenet_weights(path: Path, image_size: int = 224, wrap: bool = False) -> dict[str, torch.Tensor]:
    """A freshly built backbone's state dict with a 1000-class classifier, as torchvision's files are."""
    state = backbone(1000, image_size, seed=1).state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}} if wrap else state, path)
    return state


@pytest.mark.parametrize("wrap", [False, True])
def test_everything_but_the_classifier_comes_from_the_file(tmp_path: Path, wrap: bool) -> None:
    path = tmp_path / "weights" / "tiny_resnet.pth"
    source = save_imagenet_weights(path, wrap=wrap)  # mmcv layout too: {"state_dict": {"module.*": ...}}
    fresh = backbone(7, seed=2).state_dict()
    loaded = backbone(7, seed=2, pretrained=path).state_dict()
    for key, value in loaded.items():
        expected = fresh[key] if key.startswith("fc.") else source[key]
        assert torch.equal(value, expected), key
    assert loaded["fc.weight"].shape == (7, 128)  # the dataset's classes, initialised as without weights
    assert not torch.equal(loaded["layer1.0.conv1.weight"], fresh["layer1.0.conv1.weight"])


def test_a_missing_file_names_it_and_where_the_papers_weights_come_from(tmp_path: Path) -> None:
    path = tmp_path / "resnet18.pth"
    with pytest.raises(pretrained.PretrainedError) as info:
        pretrained.load(backbone(7), path, "resnet18")
    message = str(info.value)
    assert f"{path}: no such weights file for resnet18" in message
    assert (
        "IMAGENET1K_V1" in message and "https://download.pytorch.org/models/resnet18-f37072fd.pth" in message
    )


def test_weights_for_the_other_stem_are_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "tiny_resnet.pth"
    save_imagenet_weights(path, image_size=224)  # 7x7 ImageNet stem
    with pytest.raises(pretrained.PretrainedError) as info:
        backbone(7, image_size=32, pretrained=path)  # 32 px: the CIFAR stem
    message = str(info.value)
    assert "these weights do not fit tiny_resnet (fc.* ignored)" in message
    assert "different shapes (1): conv1.weight (file (64, 3, 7, 7), model (64, 3, 3, 3))" in message
    assert "hint: conv1 differs: ImageNet weights need the ImageNet stem" in message


def test_a_file_with_python_objects_is_not_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "tiny_resnet.pth"
    torch.save({"state_dict": {"fc.weight": torch.zeros(2)}, "meta": {"path": Path("x")}}, path)
    with pytest.raises(pretrained.PretrainedError, match="refused to unpickle it with weights_only=True"):
        backbone(7, pretrained=path)


PRETRAINED_SUITE = """
name: pre
axes: {methods: [vanilla], backbones: [tiny_resnet], datasets: [synthetic], seeds: [0]}
recipe: {epochs: 1, batch_size: 32, train_fraction: 0.125, test_fraction: 0.25, image_size: 16, pretrained: true}
report: {reducer: final}
"""


def test_run_stops_before_any_job_without_the_weights_then_records_the_file(
    project: Path, capsys: pytest.CaptureFixture
) -> None:
    write_suite(project, PRETRAINED_SUITE, "pre.yaml")
    assert main(["run", "suites/pre.yaml"]) == 2
    err = capsys.readouterr().err
    assert "recipe.pretrained is set, but these ImageNet weights are not in the weights folder" in err
    assert f"{project / 'weights' / 'tiny_resnet.pth'} (for tiny_resnet)" in err
    assert not (project / "results" / "runs").exists()  # nothing started

    path = project / "weights" / "tiny_resnet.pth"
    save_imagenet_weights(path, image_size=16)
    assert main(["run", "suites/pre.yaml", "--executor", "inline"]) == 0
    (spec,) = (project / "results" / "runs").rglob(records.SPEC)
    record = records.read_result(spec.parent)
    assert record.status == "ok"
    assert record["pretrained"] == {
        "file": str(path),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    assert record["images"] == {"train": 256, "test": 256}  # 1/8 and 1/4 of the synthetic splits
