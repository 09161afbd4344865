"""Leaderboard rendering on fixed run records: the Markdown matches an expected file exactly."""

from __future__ import annotations

from pathlib import Path

from bench import results
from bench import suite as suite_mod
from bench.report import leaderboard
from bench.report.collect import collect
from bench.settings import Settings
from tests.conftest import write_suite

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

PUBLISHED = """source,dataset,backbone,method,metric,value,epochs,notes,reducer,network
Paper A,CIFAR-100,ResNet-18,Vanilla,top1,78.04,800,[VERIFIED-2src],median_last10,online
Paper A,CIFAR-100,ResNet-18,MixUp,top1,79.12,800,,median_last10,online
Paper A,CIFAR-100,ResNet-18,CutMix,top1,78.17,800,[CONFLICT] other source says 78.30,best_last10,online
Paper B,CIFAR-100,ResNet-18,CutMix,top1,78.30,800,[CONFLICT],median_last10,online
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


def fake_runs(project: Path, settings: Settings) -> suite_mod.Suite:
    suite = suite_mod.load(write_suite(project, SUITE))
    for job in suite_mod.expand(suite):
        run_dir = job.run_dir(settings.runs_root)
        curve = CURVES[(job.method, job.seed)]
        if curve is None:
            results.write_json(
                run_dir / results.RESULT,
                {"id": job.id, "status": "error", "error": "loss became nan in epoch 3"},
            )
            continue
        results.write_jsonl(
            run_dir / results.METRICS,
            [{"epoch": i + 1, "test_top1": {"online": v}} for i, v in enumerate(curve)],
        )
        results.write_json(run_dir / results.RESULT, {"id": job.id, "status": "ok"})
    return suite


def test_markdown_matches_the_expected_file(project: Path, settings: Settings) -> None:
    (project / "results" / "published").mkdir(parents=True)
    (project / "results" / "published" / "table.csv").write_text(PUBLISHED)
    suite = fake_runs(project, settings)
    cells = collect(suite, settings)
    text = leaderboard.markdown(cells, title="Leaderboard: golden", seeds=2, source_note="Fixed records.")
    assert text == EXPECTED.read_text(), "\n" + text


def test_cells_carry_means_deltas_and_reasons(project: Path, settings: Settings) -> None:
    (project / "results" / "published").mkdir(parents=True)
    (project / "results" / "published" / "table.csv").write_text(PUBLISHED)
    cells = {c.method: c for c in collect(fake_runs(project, settings), settings)}
    assert (
        cells["vanilla"].values == [78.0, 78.5] and cells["vanilla"].n == 2
    )  # median of the last 10 (here 3)
    assert round(cells["vanilla"].delta, 2) == 0.21 and cells["vanilla"].not_comparable_reason is None
    assert cells["cutmix"].n == 1 and cells["cutmix"].errors == ["seed 1: loss became nan in epoch 3"]
    # the comparable source is preferred over the first listed one
    assert cells["cutmix"].primary.source == "Paper B" and round(cells["cutmix"].delta, 2) == -1.80
    assert [p.source for p in cells["cutmix"].published] == ["Paper A", "Paper B"]
    csv_text = leaderboard.csv_text(list(cells.values()))
    assert csv_text.splitlines()[0] == ",".join(leaderboard.CSV_FIELDS)
    assert "vanilla,cifar100,resnet18,800,1.0,median_last10,online,2,78.2500" in csv_text


def test_unrun_cells_are_shown_as_not_run(project: Path, settings: Settings) -> None:
    suite = suite_mod.load(write_suite(project, SUITE))
    text = leaderboard.markdown(collect(suite, settings), title="t", seeds=2, source_note="")
    assert text.count("not run") == 3
