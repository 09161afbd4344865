"""Row names say which method parameters differ from the defaults."""

from __future__ import annotations

from bench.report.names import non_default, parameter_notes, row_name
from tests.fixtures.cells import cell


def mixup(alpha: float, dataset: str = "cifar100", **kw):
    c = cell("mixup", dataset, "resnet18", [80.0], **kw)
    c.params = {"alpha": alpha}
    return c


def test_a_changed_alpha_is_in_the_name_and_a_default_one_is_not() -> None:
    assert row_name([mixup(0.4)]) == "MixUp (α=0.4)"
    assert row_name([mixup(1.0)]) == "MixUp"  # MixUp's default
    assert non_default(mixup(0.4)) == {"alpha": 0.4}


def test_a_value_that_changes_by_column_goes_to_the_notes() -> None:
    cells = [mixup(1.0), mixup(0.2, dataset="imagenet")]
    assert row_name(cells) == "MixUp"
    assert parameter_notes(cells, ["mixup"]) == ["MixUp: α=0.2 (ImageNet-1K · ResNet-18 · 800 ep)."]


def test_many_shared_parameters_are_shortened_in_the_name_and_listed_in_full_below() -> None:
    c = cell("adautomix", "cifar100", "resnet18", [82.0])
    c.params = {
        "alpha": 1.0,
        "beta": 0.1,
        "mix_samples": 2,
        "lam_concat": True,
        "ema_end": 0.99999,
        "upsample": "bilinear",
    }
    assert row_name([c]) == "AdAutoMix (β=0.1, N=2, lam_concat=true, …)"
    assert parameter_notes([c], ["adautomix"]) == [
        "AdAutoMix (β=0.1, N=2, lam_concat=true, …): ema_end=0.99999 (every column)."
    ]


def test_a_variant_keeps_its_label_and_unregistered_methods_have_no_defaults() -> None:
    c = mixup(0.1)
    c.method = "mixup-a0.1"
    assert row_name([c]) == "mixup-a0.1 (α=0.1)"
    other = cell("samix", "cifar100", "resnet18", [80.0])
    other.params = {"alpha": 2.0}
    assert row_name([other]) == "samix"
