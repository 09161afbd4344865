"""Training cost × Vanilla: measured in the runs on one machine, else estimated from bench perf."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.report import cost as cost_mod
from bench.report.collect import Provenance
from bench.report.cost import Cost, PerfRatio, cost_table, costs, perf_ratios
from tests.fixtures.cells import cell

XEON, EPYC = Provenance(cpu="Intel Xeon"), Provenance(cpu="AMD EPYC")
COLUMN = ("cifar100", "resnet18", 800)


def timed(method: str, seconds: list[float], images: int = 50_000 * 800, machine: Provenance = XEON, **kw):
    c = cell(method, "cifar100", "resnet18", [80.0] * len(seconds), **kw)
    c.train_seconds, c.images_seen, c.machines = (
        list(seconds),
        [images] * len(seconds),
        [machine] * len(seconds),
    )
    return c


def test_measured_cost_is_seconds_per_image_over_vanillas_on_the_same_hardware() -> None:
    cells = [
        timed("vanilla", [100.0, 110.0]),
        timed("mixup", [105.0, 115.5]),
        timed("puzzlemix", [240.0, 200.0], images=50_000 * 400),
    ]
    found = costs(cells, [])
    assert found[("vanilla", COLUMN)] == Cost(1.0, "runs")
    assert found[("mixup", COLUMN)].ratio == pytest.approx(1.05) and found[("mixup", COLUMN)].text == "1.05×"
    # half the images in the same time: twice the cost per image
    assert found[("puzzlemix", COLUMN)].ratio == pytest.approx(2 * 220 / 105)


def test_another_machine_or_no_time_falls_back_to_bench_perf_or_nothing() -> None:
    cells = [timed("vanilla", [100.0]), timed("mixup", [50.0], machine=EPYC), timed("cutmix", [100.0])]
    cells[2].train_seconds = [None]
    ratios = [PerfRatio("mixup", "resnet18", 32, 1.02, "perf-cpu-2.14.1.csv", "Intel Xeon")]
    cells[1].jobs = cells[2].jobs = []
    found = costs(cells, ratios)
    assert found[("mixup", COLUMN)].ratio is None and "other hardware" in found[("mixup", COLUMN)].why
    assert found[("cutmix", COLUMN)] == Cost(None, "", "no recorded training time")
    unknown = [timed("vanilla", [100.0], machine=Provenance()), timed("mixup", [100.0], machine=Provenance())]
    assert costs(unknown, [])[("mixup", COLUMN)].why == "the runs do not record their hardware"


def test_perf_ratios_match_backbone_and_image_size(project: Path, settings) -> None:
    from bench import suite as suite_mod
    from tests.conftest import write_suite

    suite = suite_mod.load(
        write_suite(
            project,
            """
name: c
axes: {methods: [vanilla, mixup], backbones: [tiny_resnet], datasets: [synthetic], seeds: [0]}
recipe: {epochs: 2}
""",
        )
    )
    cells = [timed(j.method, [1.0]) for j in suite_mod.expand(suite)]
    for c, j in zip(cells, suite_mod.expand(suite)):
        c.jobs, c.dataset, c.backbone, c.epochs = [j], "synthetic", "tiny_resnet", 2
        c.train_seconds = [None]
    reports = project / "reports"
    reports.mkdir()
    (reports / "perf-cpu-x.csv").write_text(
        "kind,name,method,status,vs_vanilla,backbone,image_size,hardware\n"
        "step,mixup,mixup,ok,1.0300,tiny_resnet,16,Intel Xeon\n"
        "step,mixup,mixup,ok,1.5000,tiny_resnet,32,Intel Xeon\n"
        "step,cutmix,cutmix,error,,tiny_resnet,16,Intel Xeon\n"
    )
    (reports / "perf-broken.csv").write_text("not,a,perf,file\n1,2,3,4\n")
    ratios = perf_ratios(reports)
    assert [(r.method, r.image_size, r.ratio) for r in ratios] == [("mixup", 16, 1.03), ("mixup", 32, 1.5)]
    found = costs(cells, ratios)
    mixup = found[("mixup", ("synthetic", "tiny_resnet", 2))]
    assert (
        mixup.ratio == 1.03
        and mixup.text == "≈1.03×"
        and mixup.source == "bench perf (perf-cpu-x.csv, Intel Xeon)"
    )
    table = cost_table(cells, found)
    assert "| MixUp | ≈1.03× |" in table and table[-1] == "≈ from bench perf (perf-cpu-x.csv, Intel Xeon)."
    assert cost_mod.VANILLA == "vanilla"
