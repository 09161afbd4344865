"""The Slurm path without a cluster: submitit's real SlurmExecutor talks to a fake sbatch/srun/
scontrol/sacct (tests/executors/fake_slurm.py) that runs the array tasks on this machine as Slurm
would, so the submitted script, the array, the tasks, requeueing and `--wait` are all exercised."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from bench import records, suite
from bench.cli import main
from tests.conftest import TINY_SUITE, write_suite
from tests.executors import fake_slurm

ROOT = Path(__file__).parent.parent.parent

SLURM_TOML = """
[data]
root = "data"
[run]
executor = "slurm"
device = "cpu"
[slurm]
partition = "debugq"
cpus_per_gpu = 1
mem_gb_per_gpu = 2
time_minutes = 30
array_parallelism = 2
poll_seconds = 0.2
setup = ["export BENCH_FAKE_SETUP=1"]
extra = {constraint = "cpu", mail-type = "END"}
"""


@pytest.fixture
def cluster(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fake Slurm on PATH and a bench.toml that uses it; returns the fake's state folder."""
    from submitit import SlurmJob

    SlurmJob.watcher.clear()  # every test's fake cluster numbers its arrays from the same id
    state = project / "fake-slurm"
    fake_slurm.install(project / "bin", state)
    monkeypatch.setenv("PATH", f"{project / 'bin'}{os.pathsep}{os.environ['PATH']}")
    (project / "bench.toml").write_text(SLURM_TOML)
    return state


def one_job_suite(project: Path, epochs: int) -> Path:
    text = TINY_SUITE.replace("[vanilla, mixup, cutmix]", "[mixup]").replace("epochs: 2", f"epochs: {epochs}")
    return write_suite(project, text, "one.yaml")


def test_a_suite_runs_as_one_array_with_one_task_per_job(
    project: Path, cluster: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["run", "suites/tiny.yaml"]) == 0
    output = capsys.readouterr().out
    array = fake_slurm.FIRST_JOB_ID
    assert f"as Slurm array {array}" in output and "bench status suites/tiny.yaml" in output
    (script,) = fake_slurm.submitted_scripts(cluster)  # one array for the whole suite
    for line in (
        "#SBATCH --array=0-2%2",  # three jobs, at most two at once
        "#SBATCH --partition=debugq",
        "#SBATCH --time=30",
        "#SBATCH --cpus-per-task=1",
        "#SBATCH --mem=2048MB",
        "#SBATCH --signal=USR2@120",
        "#SBATCH --constraint=cpu",
        "#SBATCH --mail-type=END",
        "#SBATCH --job-name=bench-tiny",
        "export BENCH_FAKE_SETUP=1",
        f"export PYTHONPATH={ROOT}",
        "-m submitit.core._submit",
    ):
        assert line in script, line
    assert "--gpus-per-node" not in script  # device = "cpu"

    fake_slurm.wait_for_array(cluster, array)
    jobs = suite.expand(suite.load(project / "suites" / "tiny.yaml"))
    for job in jobs:
        run_dir = job.run_dir(project / "results" / "runs")
        assert records.read_result(run_dir).status == "ok"
        slurm_log = run_dir / "slurm.out"  # the task's own stdout, linked from the run folder
        assert slurm_log.is_symlink() and f"{job.label}: " in slurm_log.read_text()
    capsys.readouterr()
    assert main(["status", "suites/tiny.yaml"]) == 0
    assert "3 done" in capsys.readouterr().out
    assert main(["run", "suites/tiny.yaml"]) == 0
    assert "3 already finished" in capsys.readouterr().out
    assert len(fake_slurm.submitted_scripts(cluster)) == 1  # nothing submitted again


def test_a_task_signalled_before_its_time_limit_is_requeued_and_resumes(
    project: Path, cluster: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    path = one_job_suite(project, epochs=6)
    (job,) = suite.expand(suite.load(path))
    run_dir = job.run_dir(project / "results" / "runs")
    monkeypatch.setenv("FAKE_SLURM_SIGNAL_WHEN", str(run_dir / records.CHECKPOINT))
    assert main(["run", str(path), "--wait"]) == 0  # waits, reading the run folders
    output = capsys.readouterr().out
    assert "0 already finished, 1 run" in output and (project / "reports" / "tiny.md").exists()
    fake_slurm.wait_for_array(cluster, fake_slurm.FIRST_JOB_ID)  # the task process has exited too
    task = str(fake_slurm.FIRST_JOB_ID)  # submitit submits a lone job as a plain job, not an array
    assert (cluster / "restarts" / task).read_text() == "1"  # requeued once, by submitit
    assert (cluster / "tasks" / task).read_text() == "COMPLETED"
    record = records.read_result(run_dir)
    assert record.status == "ok" and record.epochs_completed == 6
    assert [r.epoch for r in records.read_metrics(run_dir)[0]] == list(range(1, 7))
    assert "resuming after epoch" in (run_dir / records.LOG).read_text()
    assert "requeued" in (run_dir / "slurm.out").read_text()


def test_waiting_reports_a_task_that_ended_without_a_result(
    project: Path, cluster: Path, capsys: pytest.CaptureFixture
) -> None:
    (project / "bench.toml").write_text(
        SLURM_TOML.replace('setup = ["export BENCH_FAKE_SETUP=1"]', 'setup = ["exit 3"]')
    )
    path = one_job_suite(project, epochs=1)
    assert main(["run", str(path), "--wait"]) == 1
    (job,) = suite.expand(suite.load(path))
    record = records.read_result(job.run_dir(project / "results" / "runs"))
    assert record.status == "error"
    assert f"Slurm task {fake_slurm.FIRST_JOB_ID} ended (FAILED)" in record.error
    assert "failed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("toml_change", "expected"),
    [
        (
            ("partition = ", "partiton = "),
            ["slurm.partiton", "did you mean 'partition'", "valid keys: partition"],
        ),
        (
            ("constraint = ", "constrant = "),
            ["slurm.extra.constrant", "did you mean 'constraint'", "from sbatch --help"],
        ),
        (("constraint = ", "partition = "), ["slurm", "use the [slurm] key partition"]),
        (("time_minutes = 30", "time_minutes = 0"), ["time_minutes must be >= 1"]),
    ],
)
def test_bad_slurm_options_are_rejected_before_anything_is_submitted(
    project: Path,
    cluster: Path,
    capsys: pytest.CaptureFixture,
    toml_change: tuple[str, str],
    expected: list[str],
) -> None:
    (project / "bench.toml").write_text(SLURM_TOML.replace(*toml_change))
    assert main(["run", "suites/tiny.yaml"]) == 2
    err = capsys.readouterr().err
    for words in expected:
        assert words in err, err
    assert "bench.toml" in err and "Traceback" not in err
    assert fake_slurm.submitted_scripts(cluster) == []


def test_a_job_needing_more_gpus_than_a_node_has_is_rejected(
    project: Path, cluster: Path, capsys: pytest.CaptureFixture
) -> None:
    (project / "bench.toml").write_text(
        SLURM_TOML.replace('device = "cpu"', 'device = "auto"') + "gpus_per_node = 4\n"
    )
    write_suite(project, TINY_SUITE + "resources: {gpus: 8}\n", "big.yaml")
    assert main(["run", "suites/big.yaml"]) == 2
    err = capsys.readouterr().err
    assert "asks for 8" in err and "gpus_per_node is 4" in err
    assert fake_slurm.submitted_scripts(cluster) == []


def test_without_submitit_the_error_says_what_to_install(
    project: Path, cluster: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "submitit", None)  # import submitit now raises ImportError
    assert main(["run", "suites/tiny.yaml"]) == 2
    assert "pip install 'mixup-bench[slurm]'" in capsys.readouterr().err


def test_gpu_jobs_ask_slurm_for_their_gpus_and_a_share_of_cpus_and_memory(project: Path) -> None:
    from bench.executors.slurm import parameters
    from bench.settings import load

    (project / "bench.toml").write_text(
        textwrap.dedent(
            """
            [slurm]
            account = "lab"
            cpus_per_gpu = 10
            mem_gb_per_gpu = 60
            """
        )
    )
    params = parameters(load(project / "bench.toml"), gpus=4, suite="imagenet")
    assert (
        params["gpus_per_node"] == 4 and params["cpus_per_task"] == 40 and params["mem"] == f"{240 * 1024}MB"
    )
    assert params["account"] == "lab" and "partition" not in params
    assert params["ntasks_per_node"] == 1  # the task starts one process per GPU itself
