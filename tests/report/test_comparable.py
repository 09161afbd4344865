"""The comparability rule: a measured job is compared with a published row only when it is the
experiment the row's paper suite states; every difference is named, ours first."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from bench import suite as suite_mod
from bench.report import comparable
from tests.conftest import write_suite
from tests.fixtures.cells import Row

# The "paper suite" stating how the published rows below were measured.
PAPER = """
name: paper
axes:
  methods: [vanilla, mixup, adautomix]
  backbones: [tiny_resnet]
  datasets: [synthetic]
  seeds: [0, 1]
recipe:
  epochs: 40
  batch_size: 100
  optimizer: {name: sgd, lr: 0.1, weight_decay: 1.0e-4}
  schedule: {name: cosine, min_lr: 0.0}
method_params:
  mixup: {alpha: 1.0}
report: {reducer: median_last10}
overrides:
  - match: {method: adautomix}
    set: {recipe.schedule.min_lr: 0.05, report.network: "ema|ema_mix"}
"""


def row(method: str = "mixup", **kw) -> Row:
    defaults = dict(dataset="synthetic", backbone="tiny_resnet", epochs=40, suite="paper", method=method)
    return Row(**{"value": 60.0, "source": "Paper", **defaults, **kw})


def measured(project: Path, text: str, method: str = "mixup", **kw) -> suite_mod.Job:
    """The first job of `method` (a label) in a suite written from `text`."""
    suite = suite_mod.load(write_suite(project, text, "measured.yaml"))
    if kw.get("scale"):
        suite = suite.with_scale(kw["scale"])
    return next(j for j in suite_mod.expand(suite) if j.method == method)


@pytest.fixture
def suites(project: Path) -> Path:
    write_suite(project, PAPER, "paper.yaml")
    return project / "suites"


def test_the_paper_suites_own_cell_is_comparable_and_found_by_row(project: Path, suites: Path) -> None:
    reference = comparable.reference_job(row(), suites)
    assert (reference.method, reference.seed, reference.params) == ("mixup", 0, {"alpha": 1.0})
    assert comparable.reasons(reference, row(), reference) == []
    other_seed = measured(project, PAPER.replace("seeds: [0, 1]", "seeds: [7]"))
    assert comparable.reasons(other_seed, row(), reference) == []  # the seed is never a difference


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ("batch_size: 100", ["batch_size 16 ≠ 100"]),
        ("lr: 0.1", ["lr 0.8 ≠ 0.1"]),
        ("weight_decay: 1.0e-4", ["weight_decay 0.0 ≠ 0.0001"]),
        ("min_lr: 0.0}", ["min_lr 0.05 ≠ 0.0"]),
        ("alpha: 1.0", ["alpha 0.2 ≠ 1.0"]),
    ],
)
def test_every_recipe_and_parameter_difference_is_named(
    project: Path, suites: Path, edit: str, expected: list[str]
) -> None:
    changed = {
        "batch_size: 100": "batch_size: 16",
        "lr: 0.1": "lr: 0.8",
        "weight_decay: 1.0e-4": "weight_decay: 0.0",
        "min_lr: 0.0}": "min_lr: 0.05}",
        "alpha: 1.0": "alpha: 0.2",
    }[edit]
    job = measured(project, PAPER.replace(edit, changed, 1))
    assert comparable.reasons(job, row(), comparable.reference_job(row(), suites)) == expected


def test_keys_added_to_the_recipe_and_gpus_are_named_too(project: Path, suites: Path) -> None:
    text = PAPER.replace(
        "  schedule: {name: cosine, min_lr: 0.0}",
        "  schedule: {name: cosine, min_lr: 0.0}\n  image_size: 64\n  label_smoothing: 0.1\n"
        "  eval_every: 20\n  train_fraction: 0.5\nresources: {gpus: 2}",
    )
    found = comparable.reasons(measured(project, text), row(), comparable.reference_job(row(), suites))
    assert found == [
        "image_size 64 ≠ 16",
        "label_smoothing 0.1 ≠ 0.0",
        "train_fraction 0.5 ≠ 1.0",
        "eval_every 20 ≠ 1",
        "gpus 2 ≠ 1",
    ]


def test_another_budget_or_augmentation_or_optimizer_is_named(project: Path, suites: Path) -> None:
    text = PAPER.replace("epochs: 40", "epochs: 20").replace("name: sgd", "name: adamw")
    text = text.replace("  batch_size: 100", "  batch_size: 100\n  augmentation: none")
    job = measured(project, text)
    found = comparable.reasons(job, row(), comparable.reference_job(row(), suites))
    assert found[0] == "epochs 20 ≠ 40"  # the budget is the row's, said once
    assert "optimizer adamw ≠ sgd" in found and "augmentation none ≠ crop_flip" in found
    assert not any(r.startswith("recipe.epochs") for r in found)


def variant_suite(item: str, stands_for: str = "") -> str:
    """PAPER with one methods-axis item, declaring what it stands for if asked."""
    text = PAPER.split("overrides:")[0].replace("methods: [vanilla, mixup, adautomix]", f"methods: [{item}]")
    if "mixup" not in item:
        text = text.replace("method_params:\n  mixup: {alpha: 1.0}\n", "")
    if stands_for:
        text += f"overrides:\n  - match: {{method: v}}\n    set: {{report.stands_for: {stands_for}}}\n"
    return text


def test_a_labelled_variant_is_compared_only_where_the_suite_says_what_it_stands_for(
    project: Path, suites: Path
) -> None:
    reference = comparable.reference_job(row(), suites)
    item = "{method: mixup, label: v}"
    assert comparable.reasons(measured(project, variant_suite(item), "v"), row(), reference) == [
        "variant label v stands for no published row (no report.stands_for)"
    ]
    declared = measured(project, variant_suite(item, "mixup"), "v")
    assert comparable.reasons(declared, row(), reference) == []
    elsewhere = measured(project, variant_suite(item, "cutmix"), "v")
    assert comparable.reasons(elsewhere, row(), reference) == ["method cutmix ≠ mixup"]


def test_a_variant_standing_for_another_method_names_the_method_not_its_parameters(
    project: Path, suites: Path
) -> None:
    job = measured(project, variant_suite("{method: vanilla, label: v}", "mixup"), "v")
    assert comparable.reasons(job, row(), comparable.reference_job(row(), suites)) == [
        "method vanilla ≠ mixup"
    ]


def test_recipe_gaps_on_either_side_are_named(project: Path, suites: Path) -> None:
    reference = comparable.reference_job(row(), suites)
    gapped = PAPER.replace(
        "report: {reducer: median_last10}", "report: {reducer: median_last10, recipe_gap: no RandAugment}"
    )
    assert comparable.reasons(measured(project, gapped), row(), reference) == ["recipe gap: no RandAugment"]
    write_suite(
        project, gapped, "paper.yaml"
    )  # now the paper suite itself says it is not the published recipe
    reference = comparable.reference_job(row(), suites)
    assert comparable.reasons(reference, row(), reference) == [
        "paper's cell differs from the published recipe: no RandAugment"
    ]


def test_a_reduced_scale_is_one_reason_not_a_list_of_scaled_fields(project: Path, suites: Path) -> None:
    reference = comparable.reference_job(row(), suites)
    job = measured(project, PAPER, scale=0.25)
    assert comparable.reasons(job, row(), reference) == [comparable.scale_reason(0.25)]
    job = measured(project, PAPER.replace("lr: 0.1", "lr: 0.2"), scale=0.25)
    assert comparable.reasons(job, row(), reference) == [comparable.scale_reason(0.25), "lr 0.2 ≠ 0.1"]


def test_the_reducer_and_network_must_be_the_rows(project: Path, suites: Path) -> None:
    reference = comparable.reference_job(row(), suites)
    job = measured(project, PAPER)
    assert comparable.reasons(job, row(reducer="best_last10"), reference) == [
        "reducer median_last10 ≠ best_last10"
    ]
    assert comparable.reasons(job, row(network="ema"), reference) == ["network online ≠ ema"]
    assert comparable.reasons(job, row(reducer="unknown"), reference) == [
        "the source does not state its reducer"
    ]
    # a robustness number is one checkpoint's: no reducer to compare, the network still counts
    assert comparable.reasons(job, row(reducer="unknown", metric="fgsm_error"), reference) == []
    assert comparable.reasons(job, row(network="unknown", metric="fgsm_error"), reference) == [
        "the source does not state its network"
    ]
    learned = row("adautomix", network="ema|ema_mix")
    teacher = comparable.reference_job(learned, suites)
    assert comparable.reasons(teacher, learned, teacher) == []
    assert comparable.reasons(teacher, replace(learned, network="ema"), teacher) == [
        "network ema|ema_mix ≠ ema"
    ]


def test_without_a_reference_cell_nothing_is_comparable(project: Path, suites: Path) -> None:
    job = measured(project, PAPER)
    unstated = row(suite="")
    assert comparable.reference_job(unstated, suites) is None
    assert comparable.reasons(job, unstated, None) == [
        "no reference cell: no paper suite states how synthetic · tiny_resnet · mixup · 40 ep was measured"
    ]
    assert comparable.reference_job(row(suite="missing_suite"), suites) is None
    assert comparable.reference_job(row(epochs=400), suites) is None  # no 400-epoch cell
    found = comparable.reasons(job, row(epochs=400), None)
    assert found == [
        "epochs 40 ≠ 400",
        "no reference cell: suite paper has no cell synthetic · tiny_resnet · mixup · 400 ep",
    ]


def test_a_missing_published_value_is_never_comparable(project: Path, suites: Path) -> None:
    reference = comparable.reference_job(row(), suites)
    assert comparable.reasons(reference, row(value=math.nan), reference) == ["the published value is missing"]


def test_every_published_row_a_paper_suite_states_is_that_cells_experiment() -> None:
    """The paper suites are the statement: each row naming one has its cell there, and that cell is
    comparable with the row except where the suite declares a recipe gap or the source states no
    reducer or network (never compared, by rule)."""
    from bench.published import table

    repo = Path(__file__).resolve().parents[2]
    rows = [r for r in table.load(repo / "results" / "published") if r.suite]
    assert len(rows) > 400
    allowed = ("'s cell differs from the published recipe: ", "the source does not state its ")
    for r in rows:
        reference = comparable.reference_job(r, repo / "suites")
        assert reference is not None, r
        found = comparable.reasons(reference, r, reference)
        assert all(any(a in why for a in allowed) for why in found), (r, found)
