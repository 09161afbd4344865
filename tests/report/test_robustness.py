"""The robustness table from fabricated run records: the leaderboard's network (never the head that
scores better on the test set), the leaderboard's cells and comparability rule, and what is shown
for failed, unevaluated and mixed-source runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench import records, safe_io
from bench import suite as suite_mod
from bench.evaluate.store import STORE
from bench.report import robustness as report
from bench.settings import Settings
from tests.conftest import write_suite

SUITE = """
name: fab
axes: {methods: [vanilla, adautomix], backbones: [resnet18], datasets: [cifar100], seeds: [0, 1]}
recipe: {epochs: 200}
"""

PUBLISHED = """table,dataset,backbone,method,epochs,metric,value,reducer,network,role,source,locator,verification,suite,notes
Paper T3,cifar100,resnet18,adautomix,200,top1,81.55,unknown,unknown,primary,Paper,Table 3,found: fixture,,
Paper T3,cifar100,resnet18,adautomix,200,top1_corruption,51.44,unknown,unknown,primary,Paper,Table 3,found: fixture,,
Paper T3,cifar100,resnet18,adautomix,200,fgsm_error,75.66,unknown,unknown,primary,Paper,Table 3,found: fixture,,
Paper T3,cifar100,resnet18,vanilla,200,top1,78.00,final,online,primary,Paper,Table 3,found: fixture,fab,
Paper T3,cifar100,resnet50,vanilla,200,top1_corruption,48.00,final,online,primary,Paper,Table 3,found: fixture,fab,
"""


def record(top1: float, ece: float, fgsm: float, source: str = "CIFAR-100-C (release)") -> dict:
    return {
        "clean": {
            "top1": top1,
            "n": 10000,
            "device": "cpu (x86_64), fp32",
            "torch": "2.x",
            "git_commit": "abc",
        },
        "ece": {"ece": ece, "settings": {"ece_bins": 15, "batch_size": 256, "version": 1}},
        "fgsm": {"error": fgsm, "settings": {"eps_255": 8.0, "batch_size": 256, "version": 1}},
        "corruption": {"cacc19": top1 - 30, "cacc15": top1 - 31, "source": source, "generated": False},
    }


def fabricate(project: Path, settings: Settings, stores: dict) -> list:
    """spec.json and robustness.json for every job of SUITE; `stores[(method, seed)]` is
    {network: record(...)} or None (no robustness.json)."""
    jobs = suite_mod.expand(suite_mod.load(write_suite(project, SUITE, "fab.yaml")))
    entries = []
    for job in jobs:
        run_dir = job.run_dir(settings.runs_root)
        safe_io.write_json(records.prepare(job, settings.runs_root) / records.SPEC, job.to_record())
        per_network = stores.get((job.method, job.seed))
        if per_network is not None:
            evaluations: dict = {}
            for network, by_evaluator in per_network.items():
                for evaluator, values in by_evaluator.items():
                    evaluations.setdefault(evaluator, {})[network] = values
            safe_io.write_json(run_dir / STORE, {"run_id": job.id, "version": 1, "evaluations": evaluations})
        entries.append((job, run_dir))
    return entries


def collect(entries: list, published: Path, **kw):
    """The robustness cells, with the published table of `published` and the project's suites."""
    from bench.published import table

    return report.collect(entries, table.load(published), published.parent.parent / "suites", **kw)


def row(markdown: str, method: str, table: int = 0) -> list[str]:
    lines = [line for line in markdown.splitlines() if line.startswith(f"| {method} | ")]
    return [c.strip() for c in lines[table].strip("|").split("|")]


@pytest.fixture
def published(project: Path) -> Path:
    folder = project / "results" / "published"
    folder.mkdir(parents=True)
    (folder / "published.csv").write_text(PUBLISHED)
    return folder


def test_the_reported_network_is_declared_before_testing_never_the_better_scoring_head(
    project: Path, settings: Settings, published: Path
) -> None:
    learned = {
        "ema": record(70.0, 6.57, 80.0),
        "ema_mix": record(72.0, 21.44, 79.0),
        "online": record(69.0, 5.0, 81.0),
    }
    entries = fabricate(
        project,
        settings,
        {
            ("vanilla", 0): {"online": record(71.0, 10.0, 85.0)},
            ("vanilla", 1): {"online": record(73.0, 12.0, 87.0)},
            ("adautomix", 0): learned,
            ("adautomix", 1): learned,
        },
    )
    collected = collect(entries, published)
    text = report.markdown(collected, title="t", source_note="")
    ada = row(text, "AdAutoMix")
    assert ada[1] == "ema"  # the first of ema|ema_mix although ema_mix has the better clean top-1
    header = next(line for line in text.splitlines() if line.startswith("| Method |")).split("|")
    ece = [c.strip() for c in header].index("ECE ↓") - 1
    assert ada[ece].strip("*<u>/ ").startswith("6.57 ± 0.00")  # not ema_mix's 21.44
    assert "never the one that scores better" in text
    every = [
        line
        for line in text.split("## Every evaluated network")[1].splitlines()
        if line.startswith("| AdAutoMix")
    ]
    assert {line.split("|")[3].strip() for line in every} == {"ema", "ema_mix", "online"}
    vanilla = row(text, "Vanilla")
    assert (
        vanilla[2] == "**72.00 ± 1.41**"
    )  # the best clean top-1 of the column, bold;  # mean ± sample std over the two seeds


def test_published_values_are_compared_only_by_the_shared_rule_and_each_reason_is_named(
    project: Path, settings: Settings, published: Path
) -> None:
    entries = fabricate(
        project,
        settings,
        {
            (m, s): {"online" if m == "vanilla" else "ema": record(80.0, 5.0, 76.0)}
            for m in ("vanilla", "adautomix")
            for s in (0, 1)
        },
    )
    text = report.markdown(collect(entries, published), title="t", source_note="")
    ada, vanilla = row(text, "AdAutoMix"), row(text, "Vanilla")
    assert ada[3] == "81.55" and ada[4].startswith("n/c")  # clean: the rule's reducer/network
    assert ada[9] == "75.66" and ada[10].startswith("n/c")  # FGSM: the convention too
    assert "the source does not state its reducer; the source does not state its network" in text
    assert "no reference cell: no paper suite states how cifar100 · resnet18 · adautomix · 200 ep" in text
    assert "FGSM convention differs" in text
    assert vanilla[3] == "78.00" and vanilla[4] == "+2.00"  # same cell, reducer and network: a Δ
    assert vanilla[6] == "—"  # Table 3's ResNet-50 corruption value is another cell's
    from bench.published import table

    reference = "\n".join(report.published_reference(collect(entries, published), table.load(published)))
    assert "| Paper T3 | CIFAR-100 · ResNet-50 · 200 epochs | Vanilla | — | 48.00 | — |" in reference


def test_failed_unevaluated_and_mixed_source_runs_are_shown_as_such(
    project: Path, settings: Settings, published: Path
) -> None:
    entries = fabricate(
        project,
        settings,
        {
            ("vanilla", 0): {"online": record(70.0, 5.0, 80.0)},
            ("vanilla", 1): {"online": record(70.0, 5.0, 80.0, source="generated (ImageNet-C parameters)")},
            ("adautomix", 0): None,
            ("adautomix", 1): None,
        },
    )
    failed = {entries[2][1]: "checkpoint does not fit"}
    text = report.markdown(collect(entries, published, errors=failed), title="t", source_note="")
    vanilla, ada = row(text, "Vanilla"), row(text, "AdAutoMix")
    assert vanilla[5] == "mixed sources (see CSV)"  # never average a released set with a generated one
    assert ada[2] == "failed (1 failed, 1 not evaluated)"
    assert "Failed evaluations" in text and "checkpoint does not fit" in text
    csv_text = report.csv_text(collect(entries, published, errors=failed))
    assert "checkpoint does not fit" in csv_text and re.search(
        r"vanilla,cifar100,resnet18,200,1.0,online,True,clean,2", csv_text
    )


def test_a_value_that_is_not_a_finite_number_is_invalid_never_averaged_or_ranked(
    project: Path, settings: Settings, published: Path
) -> None:
    nan = record(70.0, float("nan"), 80.0)
    entries = fabricate(
        project,
        settings,
        {
            ("vanilla", 0): {"online": nan},
            ("vanilla", 1): {"online": record(71.0, 4.0, 81.0)},
            ("adautomix", 0): {"ema": record(72.0, 6.0, 82.0)},
            ("adautomix", 1): {"ema": record(73.0, 7.0, 83.0)},
        },
    )
    text = report.markdown(collect(entries, published), title="t", source_note="")
    header = [
        c.strip()
        for c in next(line for line in text.splitlines() if line.startswith("| Method |")).split("|")
    ]
    ece = header.index("ECE ↓") - 1
    vanilla, ada = row(text, "Vanilla"), row(text, "AdAutoMix")
    assert vanilla[ece] == "4.00 (n=1 of 2, 1 invalid)"  # the NaN seed is counted, not averaged
    assert "**" not in ada[ece] and "<u>" not in ada[ece]  # an incomplete column is not ranked
