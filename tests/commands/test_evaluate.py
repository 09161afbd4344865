"""`bench evaluate`: a released checkpoint, evaluated and compared with its published value."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import runtime
from bench.cli import main
from bench.data.pipeline import eval_loader
from bench.data.synthetic import SYNTHETIC
from bench.evaluate.clean import top1
from bench.models.backbones import build_backbone
from bench.settings import RunSettings, Settings
from tests.fixtures.openmixup import openmixup_state, save_mmcv
from tests.models.test_checkpoint import model

PUBLISHED = """table,dataset,backbone,method,epochs,metric,value,reducer,network,role,source,locator,verification,suite,notes
Release notes,synthetic,tiny_resnet,adautomix,800,top1,{value},openmixup_automix10,ema|ema_mix,primary,notes,T1,found: test,,
"""


SIZE = 8  # synthetic images at 8 px: the same code path, a quarter of the work of 16 px


def accuracy(net) -> float:
    rt = runtime.resolve(RunSettings(device="cpu"))
    batches, _ = eval_loader(SYNTHETIC, SIZE, 200, Settings(), rt)
    return top1(net, batches, rt)


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, float]]:
    """An AdAutoMix checkpoint in OpenMixup's layout, and the top-1 of each of its networks."""
    teacher, online, mix = (model(seed=s, image_size=SIZE) for s in (1, 2, 3))
    path = tmp_path_factory.mktemp("release") / "adautomix.pth"
    save_mmcv(path, openmixup_state(teacher, online, mix_head=mix))
    scores = {"ema": accuracy(teacher), "online": accuracy(online)}
    teacher.fc.load_state_dict(mix.fc.state_dict())
    scores["ema_mix"] = accuracy(teacher)
    return path, scores


def evaluate(path: Path, *extra: str) -> int:
    return main(
        [
            "evaluate",
            "--checkpoint",
            str(path),
            "--backbone",
            "tiny_resnet",
            "--dataset",
            "synthetic",
            "--image-size",
            str(SIZE),
            *extra,
        ]
    )


def publish(project: Path, value: float) -> None:
    (project / "results" / "published").mkdir(parents=True, exist_ok=True)
    (project / "results" / "published" / "published.csv").write_text(PUBLISHED.format(value=value))


def test_teacher_heads_are_evaluated_and_compared(project: Path, released, capsys) -> None:
    path, scores = released
    publish(project, 50.0)
    assert evaluate(path, "--method", "AdAutoMix") == 0
    text = capsys.readouterr().out
    assert "online network + EMA teacher, saved after epoch 800" in text
    assert f"{scores['ema']:.2f}" in text and f"{scores['ema_mix']:.2f}" in text
    best = max(scores["ema"], scores["ema_mix"])
    assert f"reported (ema|ema_mix: the larger): {best:.2f}" in text
    assert (
        "published AdAutoMix / synthetic / tiny_resnet / 800 ep: 50.00 (compared) from Release notes" in text
    )
    assert f"Δ = ours − published = {best - 50:+.2f} points" in text


def test_one_network_and_a_tolerance_check(project: Path, released, capsys) -> None:
    path, scores = released
    publish(project, 99.0)
    assert evaluate(path, "--network", "online", "--method", "adautomix", "--tolerance", "1") == 1
    text = capsys.readouterr().out
    assert f"{scores['online']:.2f}" in text and "reported" not in text
    assert "Networks differ: ours online, published ema|ema_mix" in text and "REGRESSION" in text


def test_without_a_method_there_is_nothing_to_compare(project: Path, released, capsys) -> None:
    assert evaluate(released[0]) == 0
    assert "pass --method" in capsys.readouterr().out


def test_user_errors_exit_2_with_the_reason(project: Path, released, capsys) -> None:
    path, _ = released
    assert (
        main(["evaluate", "--checkpoint", str(path), "--backbone", "resnet19", "--dataset", "synthetic"]) == 2
    )
    assert "did you mean 'resnet18'" in capsys.readouterr().err
    assert evaluate(path, "--network", "ema_mixx") == 2
    assert "unknown network 'ema_mixx' (did you mean 'ema_mix'?)" in capsys.readouterr().err
    # a 100-class checkpoint for a 10-class dataset: the classifier's shape differs, and is named
    hundred = build_backbone("tiny_resnet", num_classes=100, image_size=SIZE)
    assert evaluate(save_mmcv(project / "c100.pth", openmixup_state(hundred))) == 2
    err = capsys.readouterr().err
    assert "the checkpoint's keys do not match the model's" in err
    assert "different shapes (2): fc.weight (file (100, 128), model (10, 128)), fc.bias" in err
    assert "another number of classes" in err
