"""AutoMix and AdAutoMix as jobs: a resumed run equals an uninterrupted one, and the run record and
the leaderboard say which network each number is (the EMA teacher, as published)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import records, reducers
from bench import suite as suite_mod
from bench.job import Job
from bench.records import curves_from
from bench.report.collect import collect
from bench.settings import Settings
from bench.train import run_job
from tests.conftest import write_suite
from tests.test_train import tiny_job as train_tiny_job

NETWORKS = {"online", "online_mix", "ema", "ema_mix"}


def tiny_job(method: str, params: dict, epochs: int = 2) -> Job:
    return train_tiny_job(method, epochs, params=params, train_fraction=0.0625, test_fraction=0.125)


def metrics(job: Job, settings: Settings) -> list[dict]:
    rows = records.read_metrics(job.run_dir(settings.runs_root))[0]
    return [{k: v for k, v in r.to_dict().items() if "seconds" not in k} for r in rows]


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("adautomix", {"mix_samples": 3, "upsample": "random"}),
        ("automix", {"mask_loss_decay": "cosine_compounded"}),
    ],
)
def test_interrupted_job_resumes_exactly(tmp_path: Path, method: str, params: dict) -> None:
    job = tiny_job(method, params, epochs=2)
    reference = Settings(base_dir=str(tmp_path / "ref"))
    record = run_job(job, reference)
    assert record.status == "ok", record.error
    assert set(record["metrics"]) == NETWORKS and record["primary_network"] == "ema|ema_mix"

    settings = Settings(base_dir=str(tmp_path / "resumed"))

    def interrupt_after_one(_job: Job, row: dict) -> None:
        if row.epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_job(job, settings, on_epoch=interrupt_after_one)
    assert run_job(job, settings).status == "ok"
    assert metrics(job, settings) == metrics(job, reference)  # every network, every epoch, the train logs


def test_leaderboard_reports_the_better_teacher_head(project: Path, settings: Settings) -> None:
    suite = suite_mod.load(
        write_suite(
            project,
            """
            name: learned
            axes: {methods: [automix, adautomix], backbones: [tiny_resnet], datasets: [synthetic], seeds: [0]}
            recipe: {epochs: 1, batch_size: 32, image_size: 16, train_fraction: 0.0625, test_fraction: 0.125}
            report: {reducer: final}
            """,
        )
    )
    for job in suite_mod.expand(suite):
        assert run_job(job, settings).status == "ok"
    for cell in collect(suite, settings):
        assert cell.network == "ema|ema_mix"
        job = next(j for j in suite_mod.expand(suite) if j.method == cell.method)
        curves = curves_from(records.read_metrics(job.run_dir(settings.runs_root))[0])
        assert set(curves) == NETWORKS
        best = max(("ema", "ema_mix"), key=lambda n: reducers.reduce(curves[n], "final"))
        assert cell.values == [curves[best][-1]] and cell.networks_used == [best]
