"""Leaderboards: cells from run records, and their Markdown in the paper's shape (golden file)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from bench import records
from bench import suite as suite_mod
from bench.report import leaderboard
from bench.report.collect import collect, columns
from bench.settings import Settings
from tests.conftest import write_suite
from tests.fixtures.cells import cell, paper_cells

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

PUBLISHED = """table,dataset,backbone,method,epochs,metric,value,reducer,network,role,source,locator,verification,suite,notes
Paper A,cifar100,resnet18,vanilla,800,top1,78.04,median_last10,online,primary,A,T1,found: test,,
Paper A,cifar100,resnet18,mixup,800,top1,79.12,median_last10,online,primary,A,T1,found: test,,
Paper A,cifar100,resnet18,cutmix,800,top1,78.17,best_last10,online,primary,A,T1,found: test,,[CONFLICT] other source says 78.30
Paper B,cifar100,resnet18,cutmix,800,top1,78.30,median_last10,online,primary,B,T1,found: test; differs: Paper A gives 78.17,,
Paper C,cifar100,resnet18,mixup,800,top1,79.12,median_last10,online,primary,C,T1,found: test,,
"""

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
    """Run records for SUITE (at `scale`) as training would write them, with CURVES."""
    suite = suite_mod.load(write_suite(project, SUITE)).with_scale(scale)
    for job in suite_mod.expand(suite):
        run_dir = job.run_dir(settings.runs_root)
        curve = CURVES[(job.method, job.seed)]
        if curve is None:
            records.write_result(
                run_dir, records.Result(id=job.id, status="error", error="loss became nan in epoch 3")
            )
            continue
        records.write_metrics(
            run_dir, [records.MetricsRow(epoch=i + 1, test_top1={"online": v}) for i, v in enumerate(curve)]
        )
        records.write_result(run_dir, records.Result(id=job.id, status="ok"))
    return suite


def test_cells_carry_means_deltas_curves_and_reasons(project: Path, settings: Settings) -> None:
    (project / "results" / "published").mkdir(parents=True)
    (project / "results" / "published" / "published.csv").write_text(PUBLISHED)
    cells = {c.method: c for c in collect(fake_runs(project, settings), settings)}
    assert cells["vanilla"].values == [78.0, 78.5] and cells["vanilla"].n == 2  # median of the last 10
    assert cells["vanilla"].curves[1] == [(1, 77.5), (2, 78.5), (3, 79.0)]
    assert cells["vanilla"].epochs == cells["vanilla"].epochs_run == 800
    assert round(cells["vanilla"].delta, 2) == 0.21 and cells["vanilla"].not_comparable_reason is None
    assert cells["cutmix"].n == 1 and cells["cutmix"].errors == ["seed 1: loss became nan in epoch 3"]
    # the comparable source is preferred over the first listed one
    assert cells["cutmix"].primary.source == "Paper B" and round(cells["cutmix"].delta, 2) == -1.80
    assert [p.source for p in cells["cutmix"].published] == ["Paper A", "Paper B"]
    # two sources giving the same value agree; a [CONFLICT] note or two values disagree
    assert not cells["mixup"].conflicting and cells["cutmix"].conflicting
    text = leaderboard.csv_text(list(cells.values()))
    assert text.splitlines()[0] == ",".join(leaderboard.CSV_FIELDS)
    assert "vanilla,cifar100,resnet18,800,800,1.0,median_last10,online,2,78.2500" in text
    assert "78.17 (Paper A),True,-1.8000,True" in text
    assert "Gain" not in text  # no AdAutoMix row, no Gain row
    # a suite that knows its recipe differs from the published one keeps the cell out of comparison
    cells["vanilla"].recipe_gap = "no RandAugment"
    assert cells["vanilla"].not_comparable_reason == "recipe differs from the published one: no RandAugment"


def test_unrun_cells_are_shown_as_not_run(project: Path, settings: Settings) -> None:
    suite = suite_mod.load(write_suite(project, SUITE))
    text = leaderboard.markdown(collect(suite, settings), title="t", seeds=2, source_note="")
    assert text.count("not run") == 3


# --- the paper's shape, on fixed cells --------------------------------------------------------


def test_markdown_in_the_papers_shape_matches_the_expected_file(adautomix_alias: None) -> None:
    text = leaderboard.markdown(
        paper_cells(), title="Leaderboard: golden", seeds=3, source_note="Fixed records."
    )
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
    gain = dict(zip(leaderboard.CSV_FIELDS, lines[13].split(",")))
    assert gain["method"] == "Gain" and gain["dataset"] == "cifar100" and gain["backbone"] == "resnet18"
    assert gain["mean"] == "1.3700" and gain["n"] == "3" and gain["versus"] == "mixup"
    assert gain["published"] == "3.20" and gain["published_versus"] == "mixup"
    assert (gain["ci_low"], gain["ci_high"]) == ("0.7930", "1.9404")
    no_interval = dict(zip(leaderboard.CSV_FIELDS, lines[15].split(",")))
    assert no_interval["dataset"] == "cifar10" and no_interval["ci_low"] == ""
    assert no_interval["reason"] == "the two rows have different seeds"


def test_reduced_scale_is_labelled_everywhere_and_never_compared(adautomix_alias: None) -> None:
    cells = [
        cell(c.method, c.dataset, c.backbone, c.values, c.published, c.seeds, scale=0.25, epochs_run=200)
        for c in paper_cells()
        if c.values
    ]
    text = leaderboard.markdown(cells, title="t", seeds=3, source_note="")
    assert "> **Reduced scale ×0.25**" in text
    assert "CIFAR-100<br>ResNet-18 (800 ep; ran 200 at ×0.25)" in text
    table = [line for line in text.splitlines() if line.startswith("| ") and "Method" not in line]
    measured = [part for line in table for part in line.split(" | ")[1::3] if part]
    assert measured and all("scale 0.25" in part for part in measured), measured
    deltas = [part.strip(" |") for line in table for part in line.split(" | ")[3::3]]
    assert not any(d.startswith(("+", "-")) for d in deltas), deltas  # no delta is ever printed
    assert "never comparable with published numbers" in text
    for row in csv.DictReader(io.StringIO(leaderboard.csv_text(cells))):
        assert row["scale"] == "0.25" and row["comparable"] == "False" and row["delta"] == ""
