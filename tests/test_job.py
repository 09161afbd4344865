"""Job ids: a hash of everything that determines the numbers, and nothing else."""

from __future__ import annotations

import dataclasses

from bench import records
from bench.job import Job, Report
from bench.recipe import Optimizer, RandAugmentSettings, Recipe


def _job(**changes) -> Job:
    base = dict(
        suite="s",
        method="mixup",
        method_name="mixup",
        method_version=1,
        params={"alpha": 1.0},
        backbone="tiny_resnet",
        dataset="synthetic",
        seed=0,
        recipe=Recipe(epochs=3, image_size=16, augmentation="crop_flip"),
    )
    return Job(**{**base, **changes})


def test_id_is_stable_and_sensitive_to_what_matters() -> None:
    job = _job()
    assert job.id == _job().id and len(job.id) == 16
    assert _job(seed=1).id != job.id
    assert _job(params={"alpha": 2.0}).id != job.id
    assert _job(recipe=dataclasses.replace(job.recipe, epochs=4)).id != job.id
    assert _job(method_version=2).id != job.id  # a method change invalidates old results
    assert _job(gpus=2).id != job.id  # BatchNorm sees batch_size / gpus images per process
    assert "gpus" not in job.spec()  # one-GPU jobs keep the ids they had before multi-GPU jobs existed


def test_ids_of_existing_jobs_never_change() -> None:
    """The id this job has had since before the recipe keys crop_scale, randaugment, precision and
    optimizer.no_decay_names existed: keys added later are hashed only when set."""
    assert _job().id == "4b893a85114ea7b7"
    assert set(_job().spec()["recipe"]) == {
        f.name for f in dataclasses.fields(Recipe) if f.name not in ("crop_scale", "randaugment", "precision")
    }


def test_keys_added_later_change_the_id_when_set() -> None:
    base = _job().recipe
    changed = [
        dataclasses.replace(base, crop_scale=(0.8, 1.0)),
        dataclasses.replace(base, randaugment=RandAugmentSettings()),
        dataclasses.replace(base, randaugment=RandAugmentSettings(magnitude=9.0)),
        dataclasses.replace(base, precision="fp16"),
        dataclasses.replace(base, precision="fp32"),
        dataclasses.replace(base, optimizer=Optimizer(no_decay_names=("relative_position_bias_table",))),
    ]
    ids = {_job(recipe=r).id for r in changed}
    assert len(ids) == len(changed) and _job().id not in ids
    for recipe in changed:  # and they survive spec.json
        job = _job(recipe=recipe)
        assert Job.from_record(job.to_record()).id == job.id


def test_id_ignores_labels_suite_and_report() -> None:
    job = _job()
    assert _job(suite="other").id == job.id
    assert _job(method="mixup-variant").id == job.id
    assert _job(report=Report(reducer="final")).id == job.id


def test_record_round_trip_and_run_dir(tmp_path) -> None:
    for job in (_job(budget_epochs=30), _job(budget_epochs=3, gpus=4)):
        again = Job.from_record(job.to_record())
        assert again == job and again.id == job.id
    assert job.run_dir(tmp_path) == tmp_path / "_jobs" / job.id  # the run store: by content, not by suite
    other_suite = dataclasses.replace(job, suite="other", method="mixup-again")
    assert other_suite.id == job.id and other_suite.run_dir(tmp_path) == job.run_dir(tmp_path)
    view = records.view_dir(job, tmp_path)  # where the suite shows it (and where it lived before the store)
    assert view == tmp_path / "s" / "synthetic" / "tiny_resnet" / "mixup" / f"s0-{job.id[:8]}"
