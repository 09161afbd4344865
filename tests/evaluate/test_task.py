"""Evaluations as executor jobs: the spec round trip, and a suite's robustness evaluation submitted
to (fake) Slurm like training, with nothing submitted once everything is stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import records, suite
from bench.cli import main
from bench.evaluate.config import RobustnessConfig
from bench.evaluate.store import STORE
from bench.evaluate.task import FOLDER, EvaluationJob, read_details
from bench.executors import worker
from tests.executors import fake_slurm
from tests.executors.test_slurm import cluster, one_job_suite  # noqa: F401 (a fixture)


def a_job():
    return suite.expand(suite.load(Path(__file__).parent.parent.parent / "suites" / "smoke.yaml"))[0]


def test_an_evaluation_job_round_trips_through_its_spec_and_the_worker_loads_it(tmp_path: Path) -> None:
    task = EvaluationJob(a_job(), str(tmp_path / "run"), RobustnessConfig(fgsm=True, eps_255=4))
    assert (
        task.run_dir(Path("/elsewhere")) == tmp_path / "run" / FOLDER
    )  # the run folder, wherever runs_root is
    assert (task.gpus, task.method, task.seed) == (1, "vanilla", 0)
    task.prepare()
    loaded = worker.load(task.run_dir())
    assert loaded == task and loaded.id == task.id
    other = EvaluationJob(a_job(), str(tmp_path / "run"), RobustnessConfig(fgsm=True, eps_255=2))
    assert other.id != task.id
    tampered = {**task.to_record(), "force": True}
    with pytest.raises(ValueError, match="does not match its content"):
        EvaluationJob.from_record(tampered)


def test_a_suites_evaluations_run_on_slurm_and_a_second_call_submits_nothing(
    project: Path,
    cluster: Path,  # noqa: F811
    capsys: pytest.CaptureFixture,
) -> None:
    path = one_job_suite(project, epochs=1)
    assert main(["run", str(path), "--executor", "inline"]) == 0
    (job,) = suite.expand(suite.load(path))
    run_dir = job.run_dir(project / "results" / "runs")
    capsys.readouterr()
    assert main(["robustness", str(path), "--fgsm", "--ece"]) == 0  # bench.toml: executor slurm
    output = capsys.readouterr().out
    assert "executor slurm" in output and "1 evaluation submitted" in output.replace(
        "evaluations", "evaluation"
    )
    fake_slurm.wait_for_array(cluster, fake_slurm.FIRST_JOB_ID)
    (task,) = [EvaluationJob.load(run_dir / FOLDER)]
    assert records.read_result(run_dir / FOLDER).ok and read_details(task)["evaluated"] == [
        "clean",
        "fgsm",
        "ece",
    ]
    store = json.loads((run_dir / STORE).read_text())
    assert set(store["evaluations"]) == {"clean", "fgsm", "ece"}
    assert (run_dir / FOLDER / "slurm.out").is_symlink()  # the task's own log, beside its spec

    assert main(["robustness", str(path), "--fgsm", "--ece"]) == 0
    output = capsys.readouterr().out
    assert "1 run already holds every evaluation asked for" in output.replace(
        "runs already hold", "run already holds"
    )
    assert len(fake_slurm.submitted_scripts(cluster)) == 1  # nothing submitted again
    board = (project / "reports" / "tiny-robustness.md").read_text()
    assert "FGSM Error ↓" in board and "ECE ↓" in board
