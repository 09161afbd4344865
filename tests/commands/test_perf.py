"""`bench perf`: the report's structure and the sanity of its figures (never their values: no timed tests)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
import yaml

from bench import registry
from bench.cli import main
from bench.commands import perf as perf_command
from bench.methods.mixup import MixUp
from bench.perf import breakdown, report, steps
from bench.perf.report import CONDITION_COLUMNS, CSV_COLUMNS

STEM = f"perf-cpu-{torch.__version__}-tiny_resnet-synthetic-16px-b16"


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fewer batches for the data path, evaluation and the breakdown than a real run takes."""
    monkeypatch.setattr(perf_command, "DATA_BLOCKS", (1, 32, 2))
    monkeypatch.setattr(perf_command, "EVAL_BATCHES", 2)
    monkeypatch.setattr(perf_command, "BREAKDOWN_STEPS", (1, 3))


def perf(project: Path, *args: str) -> int:
    return main(
        [
            "perf",
            "--backbone",
            "tiny_resnet",
            "--image-size",
            "16",
            "--batch-size",
            "16",
            "--steps",
            "2",
            "--max-steps",
            "2",
            *args,
        ]
    )


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_report_has_a_row_per_method_and_every_figure(project: Path, quick: None, capsys) -> None:
    assert perf(project, "--methods", "mixup,vanilla", "--warmup", "1") == 0
    md = (project / "reports" / f"{STEM}.md").read_text()
    rows = read_csv(project / "reports" / f"{STEM}.csv")

    assert list(rows[0]) == [*CSV_COLUMNS, *CONDITION_COLUMNS]
    methods = [r for r in rows if r["kind"] == "step"]
    assert [r["method"] for r in methods] == ["vanilla", "mixup"]  # vanilla first: the reference
    for r in methods:
        assert r["status"] == "ok"
        assert float(r["median_ms"]) > 0 and float(r["iqr_ms"]) >= 0 and r["timed"] == "2"
        assert float(r["state_mib"]) > 0 and float(r["step_peak_mib"]) > 0
        assert float(r["peak_mib"]) == pytest.approx(
            float(r["state_mib"]) + float(r["step_peak_mib"]), abs=0.11
        )
        assert (r["backbone"], r["dataset"], r["image_size"], r["batch_size"]) == (
            "tiny_resnet",
            "synthetic",
            "16",
            "16",
        )
        assert (r["device"], r["warmup"], r["steps"]) == ("cpu", "1", "2")
    vanilla, mixup = methods
    assert float(vanilla["vs_vanilla"]) == 1.0
    assert float(mixup["vs_vanilla"]) > 0 and mixup["rounds"] == "2"
    # two rounds give no 95% interval, so nothing can be decided
    assert (mixup["ratio_low"], mixup["ratio_high"], mixup["within_target"]) == ("", "", "unresolved")
    assert float(mixup["target"]) == registry.get("methods", "mixup").load().cost_target
    assert "unresolved (2)" in md and "[too few rounds]" in md
    for kind in ("data", "evaluation"):
        (row,) = [r for r in rows if r["kind"] == kind]
        assert float(row["images_per_s"]) > 0
    shares = {r["name"]: float(r["share"]) for r in rows if r["kind"] == "breakdown"}
    assert set(shares) == {*breakdown.RANGES, "other", "forward+backward"}
    assert 0 < shares["forward+backward"] <= 1
    assert shares["forward+backward"] == pytest.approx(shares["forward"] + shares["backward"], abs=2e-4)
    assert sum(v for k, v in shares.items() if k != "forward+backward") == pytest.approx(1.0, abs=1e-3)

    assert "| vanilla | " in md and "| mixup | " in md
    assert "Timings exclude warm-up and compilation" in md
    assert "forward+backward share of a vanilla step: **" in md
    for condition in (
        "logical cores",
        "torch thread",
        "tiny_resnet on synthetic at 16 px, batch 16",
        "Load average",
    ):
        assert condition in md
    assert "forward+backward share of a vanilla step" in capsys.readouterr().out


def test_every_registered_method_by_default_and_the_learned_mixers_passes(monkeypatch, project: Path) -> None:
    """The default set is the registry; AutoMix also gets its passes (only AutoMix is measured
    here, to stay quick)."""
    measured: list[str] = []
    real = steps.measure

    def measure(names, setup, warmup, count, memory=True, max_steps=None):
        measured.extend(names)
        return real(["automix"], setup, warmup, count, memory=False)

    monkeypatch.setattr(steps, "measure", measure)
    monkeypatch.setattr(perf_command, "DATA_BLOCKS", (0, 16, 1))
    monkeypatch.setattr(perf_command, "EVAL_BATCHES", 1)
    monkeypatch.setattr(perf_command, "BREAKDOWN_STEPS", (0, 1))
    assert perf(project, "--warmup", "0", "--steps", "1") == 0
    assert measured == list(registry.METHODS)
    rows = read_csv(project / "reports" / f"{STEM}.csv")
    (automix,) = [r for r in rows if r["kind"] == "step" and r["method"] == "automix"]
    passes = [r for r in rows if r["kind"] == "pass" and r["method"] == "automix"]
    assert len(passes) == 4 and all(float(p["median_ms"]) > 0 for p in passes)
    assert float(automix["passes_ms"]) == pytest.approx(sum(float(p["median_ms"]) for p in passes), rel=1e-3)
    assert float(automix["vs_passes"]) == pytest.approx(
        float(automix["median_ms"]) / float(automix["passes_ms"]), rel=1e-3
    )
    assert float(automix["target"]) == registry.get("methods", "automix").load().cost_target


class Broken(MixUp):
    """A method whose step fails."""

    name = "broken"

    def loss(self, model, images, labels):
        raise RuntimeError("broken on purpose")


def test_an_incompatible_or_failing_method_is_a_row_with_its_reason(monkeypatch) -> None:
    monkeypatch.setitem(
        registry.METHODS, "broken", registry.Entry("broken", f"{__name__}:Broken", "test only")
    )
    setup = _setup(image_size=18)  # not a multiple of the stage-3 stride: AutoMix cannot run
    rows = {
        r.method: r
        for r in steps.measure(["automix", "broken", "mixup"], setup, warmup=1, steps=1, memory=False)
    }
    assert list(rows) == ["vanilla", "automix", "broken", "mixup"]
    assert rows["automix"].status == "incompatible" and "multiple of 4" in rows["automix"].reason
    assert rows["broken"].status == "error" and "broken on purpose" in rows["broken"].reason
    assert rows["mixup"].status == "ok" and rows["mixup"].vs_vanilla > 0
    assert rows["vanilla"].vs_vanilla == 1.0
    text = report.markdown(_perf(list(rows.values())))
    assert (
        "| automix | incompatible: " in text and "| broken | error: RuntimeError: broken on purpose" in text
    )


def test_undecided_targets_get_more_rounds_up_to_the_cap() -> None:
    rows = {
        r.method: r
        for r in steps.measure(["mixup"], _setup(16), warmup=1, steps=6, memory=False, max_steps=9)
    }
    vanilla, mixup = rows["vanilla"], rows["mixup"]
    assert vanilla.within is None and vanilla.estimate.ratio == 1.0  # no target of its own
    if mixup.within == "unresolved":  # the noise of this machine could not tell: the cap was used
        assert mixup.estimate.rounds == 9 and vanilla.step.n == 9
    else:  # decided from the first 6 rounds, or after 3 more
        assert mixup.estimate.rounds in (6, 9) and mixup.estimate.low is not None
    assert mixup.step.n == mixup.estimate.rounds


def _setup(image_size: int) -> steps.Setup:
    from bench import runtime
    from bench.recipe import Recipe
    from bench.settings import RunSettings

    spec = registry.get("datasets", "synthetic").load()
    g = torch.Generator().manual_seed(0)
    images = torch.randn(8, 3, image_size, image_size, generator=g)
    labels = torch.randint(spec.num_classes, (8,), generator=g)
    rt = runtime.resolve(RunSettings(device="cpu"))
    recipe = Recipe(batch_size=8, image_size=image_size, augmentation="crop_flip")
    return steps.Setup("tiny_resnet", spec, images, labels, recipe, rt, steps_per_epoch=10)


def _perf(rows: list[steps.MethodRow]) -> report.Perf:
    from bench.perf import timing

    conditions = dict.fromkeys(CONDITION_COLUMNS, "x") | {
        "device": "cpu",
        "torch": "t",
        "channels_last": False,
        "compile": False,
    }
    one = timing.Summary(1.0, 0.0, 1)
    return report.Perf(
        conditions, timing.hardware(torch.device("cpu")), rows, one, (0, 1, 1), one, (1, 0, 1), None
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--methods", "mixupp"], "mixup"),
        (["--backbone", "resnet19"], "resnet18"),
        (["--steps", "0"], "--steps must be >= 1"),
        (["--steps", "5", "--max-steps", "3"], "--max-steps must be >= --steps (5)"),
        (["--batch-size", "1"], "--batch-size must be >= 2"),
        (["--compile", "--warmup", "0"], "--warmup must be >= 1"),
    ],
)
def test_bad_flags_are_refused_before_any_work(project: Path, capsys, args: list[str], message: str) -> None:
    assert main(["perf", *args]) == 2
    assert message in capsys.readouterr().err
    assert not (project / "reports").exists()


def test_the_breakdown_uses_the_smoke_suites_settings() -> None:
    smoke = yaml.safe_load((Path(__file__).resolve().parents[2] / "suites" / "smoke.yaml").read_text())
    assert smoke["axes"]["backbones"][0] == breakdown.SMOKE_BACKBONE
    assert smoke["axes"]["datasets"][0] == breakdown.SMOKE_DATASET
    recipe = smoke["recipe"]
    assert recipe["batch_size"] == breakdown.SMOKE_RECIPE.batch_size
    assert recipe.get("image_size", 16) == breakdown.SMOKE_IMAGE_SIZE  # synthetic's default: 16 px
    opt = breakdown.SMOKE_RECIPE.optimizer
    assert recipe["optimizer"] == {
        "name": opt.name,
        "lr": opt.lr,
        "momentum": opt.momentum,
        "weight_decay": opt.weight_decay,
    }
