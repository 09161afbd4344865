"""SnapMix against the released code on fixed inputs, and what the generic invariants do not pin.

tests/fixtures/snapmix_released.npz holds fixed inputs (images, last-stage maps, classifier weight
and bias, labels) and, per seed, the released code's random draws (permutation, two boxes) with its
mixed images and label weights (tests/fixtures/make_snapmix_reference.py wrote it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.methods import snapmix
from bench.methods.cutmix import box_mask
from bench.methods.snapmix import SnapMix, cams_from, snap_weights
from tests.fixtures.methods import batch, make, model

FIXTURE = np.load(Path(__file__).parents[1] / "fixtures" / "snapmix_released.npz")
SEEDS = sorted(int(k.removeprefix("perm_")) for k in FIXTURE.files if k.startswith("perm_"))
MEAN = torch.tensor((0.5071, 0.4865, 0.4409)).view(1, 3, 1, 1)
STD = torch.tensor((0.2673, 0.2564, 0.2762)).view(1, 3, 1, 1)


def released_box(x1: int, y1: int, x2: int, y2: int) -> tuple[int, int, int, int]:
    """The released code's (x1, y1, x2, y2) index dims 2 and 3: our (top, bottom, left, right)."""
    return x1, x2, y1, y2


@pytest.mark.parametrize("seed", SEEDS)
def test_matches_the_released_code(seed: int) -> None:
    images = (torch.from_numpy(FIXTURE["images"]).float() / 255 - MEAN) / STD
    labels = torch.from_numpy(FIXTURE["labels"])
    maps, weight, bias = (torch.from_numpy(FIXTURE[k]) for k in ("maps", "weight", "bias"))
    perm = torch.from_numpy(FIXTURE[f"perm_{seed}"])
    box, partner_box = (released_box(*b) for b in FIXTURE[f"boxes_{seed}"].tolist())

    cams = cams_from(maps, weight, bias, labels, (32, 32))
    weights = snap_weights(cams, perm, labels, box, partner_box)
    torch.testing.assert_close(weights[:, 0], torch.from_numpy(FIXTURE[f"lam_a_{seed}"]))
    torch.testing.assert_close(weights[:, 1], torch.from_numpy(FIXTURE[f"lam_b_{seed}"]))
    mask = box_mask(32, 32, box, images.device)
    mixed = mask * images + (1 - mask) * snapmix._pasted(images, perm, box, partner_box)
    torch.testing.assert_close(mixed, torch.from_numpy(FIXTURE[f"mixed_{seed}"]))


def test_same_label_pairs_get_the_sum_of_both_weights() -> None:
    seeds = [s for s in SEEDS if (FIXTURE["labels"] == FIXTURE["labels"][FIXTURE[f"perm_{s}"]]).any()]
    assert seeds  # the fixture has pairs that share a label (and pairs of an image with itself)
    for seed in seeds:
        same = FIXTURE["labels"] == FIXTURE["labels"][FIXTURE[f"perm_{seed}"]]
        assert np.allclose(FIXTURE[f"lam_a_{seed}"][same], FIXTURE[f"lam_b_{seed}"][same])


def losses(label_weights: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(the method's loss, the same loss written as the released head or the paper computes it)."""
    net, twin_net = model(), model()  # the same weights; each sees one training forward
    images, labels = batch()
    method = make("snapmix", seed=4, label_weights=label_weights)
    twin = make("snapmix", seed=4, label_weights=label_weights)
    loss, _ = method.loss(net, images, labels)
    sample = twin.sample(twin_net, images, labels)  # the same draws
    mixed, _ = sample.apply(images, twin.targets(labels))
    ce = torch.nn.functional.cross_entropy
    logits = twin_net(mixed)
    w = sample.label_weights
    if label_weights == "batch_mean":  # each cross-entropy averaged over the batch, then weighted
        expected = w[:, 0].mean() * ce(logits, labels) + w[:, 1].mean() * ce(logits, labels[sample.perm])
    else:
        per_a = ce(logits, labels, reduction="none")
        per_b = ce(logits, labels[sample.perm], reduction="none")
        expected = (w[:, 0] * per_a + w[:, 1] * per_b).mean()
    return loss, expected


def test_loss_weighs_the_batch_mean_cross_entropies_as_the_released_head() -> None:
    loss, expected = losses("batch_mean")
    torch.testing.assert_close(loss, expected)


def test_per_sample_weights_give_the_papers_loss() -> None:
    loss, expected = losses("per_sample")
    torch.testing.assert_close(loss, expected)
    assert not torch.allclose(loss, losses("batch_mean")[0])


def test_cams_come_from_the_eval_mode_network_and_touch_nothing() -> None:
    net = model()
    images, labels = batch()
    stats = {k: v.clone() for k, v in net.state_dict().items()}
    cams = snapmix.class_activation_maps(net, images, labels)
    assert net.training and all(p.grad is None for p in net.parameters())
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in stats.items())  # running stats kept
    assert cams.shape == (len(images), *images.shape[-2:]) and (cams >= 0).all()
    torch.testing.assert_close(cams.sum(dim=(1, 2)), torch.ones(len(images)))
    net.eval()
    with torch.no_grad():
        fc = net.get_classifier()
        expected = cams_from(net.forward_features(images), fc.weight, fc.bias, labels, images.shape[-2:])
    torch.testing.assert_close(cams, expected)


def test_an_empty_box_mixes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapmix.sampling, "box", lambda h, w, lam, g: (3, 3, 0, w))
    net, method = model(), make("snapmix")
    images, labels = batch()
    mixed, targets, sample = method.mix(net, images, labels)
    assert torch.equal(mixed, images) and torch.equal(targets, method.targets(labels))
    assert torch.equal(sample.weights(), torch.tensor([[1.0, 0.0]]).expand(len(images), 2))


@pytest.mark.parametrize(
    ("backbone", "ok"), [("resnet18", True), ("swin_tiny", False), ("convnext_tiny", False)]
)
def test_needs_a_backbone_with_exact_class_activation_maps(backbone: str, ok: bool) -> None:
    if ok:
        SnapMix.check_compatible(backbone=backbone, dataset="cub200", image_size=224)
    else:
        with pytest.raises(ValueError, match="class activation maps need"):
            SnapMix.check_compatible(backbone=backbone, dataset="cub200", image_size=224)
