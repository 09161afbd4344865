"""Leaderboards: cells from run records, and their Markdown in the paper's shape (golden file)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from bench import suite as suite_mod
from bench.report import leaderboard
from bench.report.collect import collect, columns
from bench.settings import Settings
from tests.conftest import write_suite
from tests.fixtures.cells import cell, paper_cells, pub
from tests.fixtures.runs import write_run

EXPECTED = Path(__file__).parent.parent / "fixtures" / "leaderboard_expected.md"

SUITE = """
name: golden
axes:
  methods: [vanilla, mixup, cutmix]
  backbones: [resnet18]
  datasets: [cifar100]
  seeds: [0, 1]
recipe: {epochs: 800}
"""

# The published table of the golden cells; `suite` names the file stating their conditions
# (suites/suite.yaml: the golden suite itself, so its cells are the published experiment).
PUBLISHED = """table,dataset,backbone,method,epochs,metric,value,reducer,network,role,source,locator,verification,suite,notes
Paper A,cifar100,resnet18,vanilla,800,top1,78.04,median_last10,online,primary,Paper A,T1,found: test,suite,
Paper A,cifar100,resnet18,mixup,800,top1,79.12,median_last10,online,primary,Paper A,T1,found: test,suite,
Paper A,cifar100,resnet18,cutmix,800,top1,78.17,best_last10,online,primary,Paper A,T1,found: test,suite,[CONFLICT] other source says 78.30
Paper B,cifar100,resnet18,cutmix,800,top1,78.30,median_last10,online,primary,Paper B,T1,found: test; differs: Paper A gives 78.17,suite,
Paper C,cifar100,resnet18,mixup,800,top1,79.12,median_last10,online,primary,Paper C,T1,found: test,suite,
"""


def write_published(project: Path, text: str = PUBLISHED) -> None:
    (project / "results" / "published").mkdir(parents=True, exist_ok=True)
    (project / "results" / "published" / "published.csv").write_text(text)


# (method, seed) -> the top-1 curve of its last epochs; None: the job failed
CURVES = {
    ("vanilla", 0): [77.0, 78.0, 78.5],
    ("vanilla", 1): [77.5, 78.5, 79.0],
    ("mixup", 0): [79.0, 79.5, 80.0],
    ("mixup", 1): [79.5, 80.0, 80.5],
    ("cutmix", 0): [76.0, 76.5, 77.0],
    ("cutmix", 1): None,
}


def fake_runs(project: Path, settings: Settings, scale: float = 1.0) -> suite_mod.Suite:
    """Run records for SUITE (at `scale`) as training would write them, ending with CURVES (the
    middle value before them, so the median of the last 10 is the middle of the three)."""
    suite = suite_mod.load(write_suite(project, SUITE)).with_scale(scale)
    for job in suite_mod.expand(suite):
        last = CURVES[(job.method, job.seed)]
        if last is None:
            write_run(job, settings.runs_root, status="error", error="loss became nan in epoch 3")
        else:
            write_run(job, settings.runs_root, last)
    return suite


def test_cells_carry_means_deltas_curves_and_reasons(project: Path, settings: Settings) -> None:
    write_published(project)
    cells = {c.method: c for c in collect(fake_runs(project, settings), settings)}
    assert cells["vanilla"].values == [78.0, 78.5] and cells["vanilla"].n == 2  # median of the last 10
    assert cells["vanilla"].curves[1][-3:] == [(798, 77.5), (799, 78.5), (800, 79.0)]
    assert cells["vanilla"].epochs == cells["vanilla"].epochs_run == 800
    assert round(cells["vanilla"].delta, 2) == 0.21 and cells["vanilla"].not_comparable_reason is None
    assert cells["cutmix"].n == 1 and cells["cutmix"].errors == ["seed 1: loss became nan in epoch 3"]
    # the comparable source is preferred over the first listed one, but an incomplete cell gets no Δ
    assert cells["cutmix"].primary.source == "Paper B" and cells["cutmix"].delta is None
    assert cells["cutmix"].not_comparable_reason == "incomplete: 1 of 2 seeds failed"
    assert [p.source for p in cells["cutmix"].published] == ["Paper B", "Paper A"]
    assert cells["cutmix"].verdicts == [[], ["reducer median_last10 ≠ best_last10"]]
    # two sources giving the same value agree; a [CONFLICT] note or two values disagree
    assert not cells["mixup"].conflicting and cells["cutmix"].conflicting
    text = leaderboard.csv_text(list(cells.values()))
    assert text.splitlines()[0] == ",".join(leaderboard.CSV_FIELDS)
    rows = {r["method"]: r for r in csv.DictReader(io.StringIO(text))}
    assert (rows["vanilla"]["mean"], rows["vanilla"]["delta"], rows["vanilla"]["comparable"]) == (
        "78.2500",
        "0.2100",
        "True",
    )
    assert (rows["cutmix"]["delta"], rows["cutmix"]["complete"], rows["cutmix"]["published_others"]) == (
        "",
        "False",
        "78.17 (Paper A)",
    )
    assert "Gain" not in text  # no AdAutoMix row, no Gain row


def test_unrun_cells_are_shown_as_not_run(project: Path, settings: Settings) -> None:
    suite = suite_mod.load(write_suite(project, SUITE))
    text = leaderboard.markdown(collect(suite, settings), title="t", source_note="")
    assert text.count("not run") == 3


# --- the paper's shape, on fixed cells --------------------------------------------------------


def test_markdown_in_the_papers_shape_matches_the_expected_file(adautomix_alias: None) -> None:
    text = leaderboard.markdown(paper_cells(), title="Leaderboard: golden", source_note="Fixed records.")
    assert text == EXPECTED.read_text(), "\n" + text


def test_columns_are_grouped_by_dataset_and_rows_keep_the_suite_order() -> None:
    cells = paper_cells()
    assert columns(cells) == [
        ("cifar100", "resnet18", 800),
        ("cifar100", "resnext50_32x4d", 800),
        ("cifar10", "resnet18", 800),
    ]
    assert leaderboard.rows(cells) == ["vanilla", "mixup", "cutmix", "adautomix"]


@pytest.mark.parametrize(
    ("means", "expected"),
    [
        ({"a": 1.0, "b": 3.0, "c": 2.0}, {"b": "**", "c": "<u>"}),
        ({"a": 3.0, "b": 3.0, "c": 2.0}, {"a": "**", "b": "**"}),  # tie for first: no second place
        ({"a": 3.0, "b": 2.0, "c": 2.0}, {"a": "**", "b": "<u>", "c": "<u>"}),  # tie for second
        ({"a": 2.004, "b": 2.001, "c": 1.0}, {"a": "**", "b": "**"}),  # equal when printed: a tie
        ({"a": 2.0, "b": 1.0}, {"a": "**"}),  # two values: no underline for the last
        ({"a": 2.0, "b": 2.0}, {}),  # all tied: nothing to mark
        ({"a": 2.0}, {}),
    ],
)
def test_rank_marks_handle_ties(means: dict[str, float], expected: dict[str, str]) -> None:
    cells = [cell(m, "cifar100", "resnet18", [v]) for m, v in means.items()]
    assert leaderboard.rank_marks(cells) == expected


def test_csv_has_every_cell_and_a_gain_row_per_column(adautomix_alias: None) -> None:
    lines = leaderboard.csv_text(paper_cells()).splitlines()
    assert len(lines) == 1 + 12 + 3
    gains = list(csv.DictReader(io.StringIO("\n".join([lines[0], *lines[13:]]))))
    refused, tie, _ = gains
    assert (
        refused["method"] == "Gain" and refused["dataset"] == "cifar100" and refused["backbone"] == "resnet18"
    )
    assert refused["mean"] == "" and refused["complete"] == "False" and refused["published"] == "3.20"
    assert refused["reason"] == "incomplete rows: CutMix 1 of 3 seeds failed"
    assert tie["backbone"] == "resnext50_32x4d" and tie["mean"] == "0.0000" and tie["n"] == "3"
    assert tie["versus"] == "mixup" and tie["published"] == "2.12" and tie["published_versus"] == "mixup"
    assert (tie["ci_low"], tie["ci_high"]) == ("-0.2484", "0.2484")


def test_reduced_scale_is_labelled_everywhere_and_never_compared(adautomix_alias: None) -> None:
    cells = [
        cell(c.method, c.dataset, c.backbone, c.values, c.published, c.seeds, scale=0.25, epochs_run=200)
        for c in paper_cells()
        if c.values
    ]
    text = leaderboard.markdown(cells, title="t", source_note="")
    assert "> **Reduced scale ×0.25**" in text
    assert "CIFAR-100<br>ResNet-18 (800 ep; ran 200 at ×0.25)" in text
    table = [line for line in text.splitlines() if line.startswith("| ") and "Method" not in line]
    assert table.pop().startswith("| Gain | n/c")  # a Gain needs rows reduced alike
    measured = [part for line in table for part in line.split(" | ")[1::3] if part]
    assert measured and all("scale 0.25" in part for part in measured), measured
    deltas = [part.strip(" |") for line in table for part in line.split(" | ")[3::3]]
    assert not any(d.startswith(("+", "-")) for d in deltas), deltas  # no delta is ever printed
    assert "never comparable with published numbers" in text
    for row in csv.DictReader(io.StringIO(leaderboard.csv_text(cells))):
        assert row["scale"] == "0.25" and row["comparable"] == "False" and row["delta"] == ""


# --- what a number may claim ------------------------------------------------------------------


def test_test_set_selected_numbers_carry_a_mark_ours_and_published() -> None:
    cells = [
        cell("vanilla", "cifar100", "resnet18", [78.0, 78.2, 78.1], [pub(78.0, "P")]),
        cell("mixup", "cifar100", "resnet18", [80.0, 80.2, 80.1], [pub(79.0, "P", "best")], reducer="best"),
        cell("adautomix", "cifar100", "resnet18", [81.0, 81.2, 81.1], reducer="median_last10"),
    ]
    text = leaderboard.markdown(cells, title="t", source_note="")
    assert "| Vanilla | 78.10 ± 0.10 | 78.00 | +0.10 |" in text  # neither is marked
    assert "80.10 ± 0.10 † | 79.00 † |" in text  # best epoch: selected on the test set
    assert "| AdAutoMix | 81.10 ± 0.10 † |" in text  # the larger of two heads, ema|ema_mix
    assert "† = selected on the test set" in text


def test_cells_without_a_valid_value_say_why_and_are_never_ranked() -> None:
    cells = [
        cell(
            "vanilla",
            "cifar100",
            "resnet18",
            [],
            [pub(78.0, "P")],
            invalid=["seed 0: top-1 of online is nan at epoch 800"],
        ),
        cell(
            "mixup",
            "cifar100",
            "resnet18",
            [],
            [pub(79.0, "P")],
            errors=["seed 0: loss became nan in epoch 3"],
        ),
        cell("cutmix", "cifar100", "resnet18", [80.0]),
        cell("fmix", "cifar100", "resnet18", [79.0]),
    ]
    text = leaderboard.markdown(cells, title="t", source_note="")
    assert "| Vanilla | NaN | 78.00 | — |" in text and "| MixUp | failed | 79.00 | — |" in text
    assert "**" not in text.split("| Method")[1].split("Notes:")[0]  # nothing bold: the column is incomplete
    assert (
        "no ranks in CIFAR-100 · ResNet-18 · 800 ep: incomplete rows: Vanilla seed 0: top-1 of online is nan"
        in text
    )
    assert "- vanilla / resnet18 / cifar100, seed 0: top-1 of online is nan at epoch 800 (invalid)" in text


def test_a_nan_seed_beside_valid_ones_is_named_in_the_cell() -> None:
    cells = [
        cell(
            "vanilla",
            "cifar100",
            "resnet18",
            [78.0, 78.2],
            invalid=["seed 2: top-1 of online is nan at epoch 9"],
        ),
        cell(
            "mixup",
            "cifar100",
            "resnet18",
            [79.0, 79.2],
            invalid=["seed 2: torn curve: metrics.jsonl has 3 rows"],
        ),
    ]
    text = leaderboard.markdown(cells, title="t", source_note="")
    assert "| Vanilla | 78.10 ± 0.14 (n=2 of 3, 1 NaN) |" in text
    assert "| MixUp | 79.10 ± 0.14 (n=2 of 3, 1 invalid) |" in text


def test_single_seed_columns_are_ranked_with_a_note_and_partial_cells_are_not() -> None:
    single = [
        cell(m, "imagenet", "resnet18", [v], seeds=[0]) for m, v in (("vanilla", 70.0), ("mixup", 71.0))
    ]
    text = leaderboard.markdown(single, title="t", source_note="")
    assert "**71.00**" in text and "rest on one seed per row" in text
    partial = [
        cell("vanilla", "cifar100", "resnet18", [78.0, 78.1, 78.2]),
        cell(
            "mixup", "cifar100", "resnet18", [90.0], missing=[1, 2]
        ),  # one seed of three is no mean of three
    ]
    text = leaderboard.markdown(partial, title="t", source_note="")
    assert "90.00 (n=1 of 3, 2 not run)" in text and "**" not in text.split("| Method")[1]


def test_a_released_log_column_appears_beside_published_values() -> None:
    from bench.report.released import ReleasedValue

    cells = [
        cell(
            "adautomix",
            "cifar100",
            "resnet18",
            [],
            [pub(82.32, "P", "openmixup_automix", "ema|ema_mix")],
            missing=[0, 1, 2],
        )
    ]
    logs = {
        ("adautomix", ("cifar100", "resnet18", 800)): ReleasedValue(82.29, "adautomix_r18_800e.log", "AA")
    }
    text = leaderboard.markdown(cells, title="t", source_note="", logs=logs)
    assert "| pub. | log | Δ |" in text and "| not run | 82.32 † | 82.29 | — |" in text
    row = next(csv.DictReader(io.StringIO(leaderboard.csv_text(cells, logs=logs))))
    assert row["released_log"] == "82.2900"
