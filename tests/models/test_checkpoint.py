"""Checkpoint import: OpenMixup's key layout round-trips into our backbones with identical logits."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import pytest
import torch

from bench.models import checkpoint
from bench.models.backbones import build_backbone
from tests.fixtures.openmixup import openmixup_state, save_mmcv

NUM_CLASSES = 10


def model(name: str = "tiny_resnet", seed: int = 0, image_size: int = 16) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_backbone(name, num_classes=NUM_CLASSES, image_size=image_size).eval()


def logits(net: torch.nn.Module, image_size: int = 16) -> torch.Tensor:
    images = torch.randn(4, 3, image_size, image_size, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        return net.eval()(images)


def imported(path: Path, network: str, name: str = "tiny_resnet", image_size: int = 16) -> torch.nn.Module:
    ckpt = checkpoint.read(path)
    fresh = model(name, seed=99, image_size=image_size)
    weights, _ = checkpoint.extract(ckpt, network)
    checkpoint.load_into(fresh, weights, str(path))
    return fresh


@pytest.mark.parametrize("name", ["tiny_resnet", "resnet18"])
def test_adautomix_checkpoint_round_trips_teacher_and_online_networks(tmp_path: Path, name: str) -> None:
    teacher, online, mix = model(name, 1), model(name, 2), model(name, 3)
    path = save_mmcv(tmp_path / "adautomix.pth", openmixup_state(teacher, online, mix_head=mix))
    ckpt = checkpoint.read(path)
    assert ckpt.two_networks and ckpt.meta["epoch"] == 800
    assert float(ckpt.meta["hook_msgs"]["best_score"]) == 82.32  # a numpy scalar, allowed
    assert ckpt.networks() == ["online", "online_mix", "ema", "ema_mix"]
    assert ckpt.default_network() == "ema|ema_mix"  # the published numbers are the teacher's
    assert torch.equal(logits(imported(path, "ema", name)), logits(teacher))
    assert torch.equal(logits(imported(path, "online", name)), logits(online))
    # the teacher's backbone with its mixed-sample head
    teacher.fc.load_state_dict(mix.fc.state_dict())
    assert torch.equal(logits(imported(path, "ema_mix", name)), logits(teacher))


def test_single_network_checkpoint_without_module_prefix(tmp_path: Path) -> None:
    net = model(seed=4)
    path = save_mmcv(tmp_path / "mixup.pth", openmixup_state(net), module_prefix=False)
    ckpt = checkpoint.read(path)
    assert not ckpt.two_networks and ckpt.networks() == ["online"] and ckpt.default_network() == "online"
    assert torch.equal(logits(imported(path, "online")), logits(net))
    with pytest.raises(checkpoint.CheckpointError, match="holds a single network"):
        checkpoint.extract(ckpt, "ema")


def test_only_exact_prefixes_are_taken_and_the_rest_is_reported(tmp_path: Path) -> None:
    teacher, online = model(seed=1), model(seed=2)
    state = openmixup_state(teacher, online)
    # Near-misses of the teacher's prefixes must not be read as the teacher.
    state["backbone_k_old.conv1.weight"] = torch.zeros(16, 3, 3, 3)
    state["backbone_kx.fc.weight"] = torch.zeros(1)
    path = save_mmcv(tmp_path / "c.pth", state)
    weights, skipped = checkpoint.extract(checkpoint.read(path), "ema")
    assert torch.equal(weights["conv1.weight"], teacher.conv1.weight)
    assert skipped == [
        "backbone.*",
        "backbone_k_old.*",
        "backbone_kx.*",
        "backbone_q.*",
        "head.*",
        "head_mix_k.*",
        "head_mix_q.*",
        "head_one_q.*",
        "mix_block.*",
    ]


def test_mismatched_keys_are_named_with_counts(tmp_path: Path) -> None:
    state = openmixup_state(model(seed=1))
    del state["backbone.layer4.0.conv2.weight"], state["head.fc.bias"]
    state["backbone.layer5.0.conv1.weight"] = torch.zeros(1)
    state["head.extra.weight"] = torch.zeros(1)
    path = save_mmcv(tmp_path / "bad.pth", state)
    with pytest.raises(checkpoint.CheckpointError) as info:
        imported(path, "online")
    message = str(info.value)
    assert "the checkpoint's keys do not match the model's" in message
    assert "missing from the checkpoint (2): layer4.0.conv2.weight, fc.bias" in message
    assert "extra in the checkpoint (2): layer5.0.conv1.weight, head.extra.weight" in message


def test_many_missing_keys_are_cut_short_and_a_wrong_stem_gets_a_hint(tmp_path: Path) -> None:
    imagenet = build_backbone("tiny_resnet", num_classes=NUM_CLASSES, image_size=224)  # 7x7 stem
    state = openmixup_state(imagenet)
    for key in [k for k in state if k.startswith("backbone.layer4")]:
        del state[key]
    path = save_mmcv(tmp_path / "stem.pth", state)
    with pytest.raises(checkpoint.CheckpointError) as info:
        imported(path, "online")  # into a CIFAR-stem model
    message = str(info.value)
    # tiny_resnet's layer4: 3 weights and 3 BatchNorms of 4 tensors each (step counters not needed)
    assert (
        "missing from the checkpoint (15): layer4.0.conv1.weight, " in message and "… and 10 more" in message
    )
    assert "different shapes (1): conv1.weight (file (64, 3, 7, 7), model (64, 3, 3, 3))" in message
    assert "--stem" in message


def test_a_pickle_with_code_is_refused_and_numpy_needs_the_allow_list(tmp_path: Path) -> None:
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    evil = tmp_path / "evil.pth"
    torch.save({"state_dict": {}, "meta": {"x": Payload()}}, evil)
    with pytest.raises(checkpoint.CheckpointError, match=r"refused to unpickle.*GLOBAL print"):
        checkpoint.read(evil)
    # the mmcv meta's numpy scalars are what a plain weights_only load rejects
    good = save_mmcv(tmp_path / "good.pth", openmixup_state(model()))
    with pytest.raises(pickle.UnpicklingError):
        torch.load(good, weights_only=True)
    assert checkpoint.read(good).meta["hook_msgs"]["best_epoch"] == 797


def test_numpy_1_module_names_are_allowed(tmp_path: Path) -> None:
    """Files from numpy 1.x (mmcv's era) name numpy.core.multiarray, not numpy._core."""
    path = tmp_path / "old.pth"
    buffer = io.BytesIO()
    torch.save(
        {"state_dict": openmixup_state(model()), "meta": {"best": __import__("numpy").float64(1.5)}},
        buffer,
        _use_new_zipfile_serialization=False,
    )
    data = buffer.getvalue().replace(b"numpy._core.multiarray\nscalar", b"numpy.core.multiarray\nscalar")
    assert b"numpy.core.multiarray\nscalar" in data
    path.write_bytes(data)
    assert checkpoint.read(path).meta["best"] == 1.5


def test_unreadable_files_and_bench_checkpoints_say_what_they_are(tmp_path: Path) -> None:
    with pytest.raises(checkpoint.CheckpointError, match="no such checkpoint file"):
        checkpoint.read(tmp_path / "missing.pth")
    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(checkpoint.CheckpointError, match="not a readable torch checkpoint"):
        checkpoint.read(tmp_path / "text.pth")
    torch.save({"job_id": "abc", "model": {}, "epoch": 3}, tmp_path / "last.pt")
    with pytest.raises(checkpoint.CheckpointError, match="bench run checkpoint"):
        checkpoint.read(tmp_path / "last.pt")
