"""bench.records: the typed records read back what was written, older records stay readable,
folders of the layout before the run store are adopted, and views lead to the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import records, suite
from bench.cli import main
from tests.conftest import TINY_SUITE, write_suite

ONE_JOB = TINY_SUITE.replace("[vanilla, mixup, cutmix]", "[vanilla]")


def _finished(folder: Path, job_id: str, finals: list[float]) -> None:
    """Records as a finished two-epoch run writes them (no training)."""
    rows = [
        records.MetricsRow(epoch=i + 1, lr=0.1, train_loss=2.0, test_top1={"online": v})
        for i, v in enumerate(finals)
    ]
    records.write_metrics(folder, rows)
    result = records.Result(
        id=job_id,
        status="ok",
        epochs_completed=len(finals),
        metrics={"online": {"final": finals[-1], "best": max(finals), "median_last10": finals[-1]}},
        primary_network="online",
        machine=records.Machine(cpu="Xeon", gpu=None, gpus=0, torch="2.14.1", cuda=None),
    )
    records.write_result(folder, result)


def test_records_read_back_what_was_written(tmp_path: Path) -> None:
    row = records.MetricsRow(
        epoch=1, lr=0.1, train_loss=2.5, train={"lam": 0.5}, seconds=1.5, test_top1={"online": 12.5}
    )
    records.write_metrics(tmp_path, [row, records.MetricsRow(epoch=2, lr=0.05, train_loss=2.0)])
    rows, problem = records.read_metrics(tmp_path)
    assert problem is None and rows[0] == row and rows[1].test_top1 == {}
    assert "test_top1" not in json.loads((tmp_path / records.METRICS).read_text().splitlines()[1])
    _finished(tmp_path, "abc", [10.0, 20.0])
    result = records.read_result(tmp_path)
    assert isinstance(result, records.Result) and result.final() == ("online", 20.0)
    assert result.machine == records.Machine(cpu="Xeon", gpu=None, gpus=0, torch="2.14.1", cuda=None)
    assert result.machine.describe() == "Xeon, no GPU, torch 2.14.1"


def test_a_result_written_before_machine_was_recorded_is_still_read(tmp_path: Path) -> None:
    old = {
        "id": "abc",
        "suite": "smoke",
        "label": "mixup",
        "status": "ok",
        "error": None,
        "metrics": {"online": {"final": 41.5}},
        "versions": {"torch": "2.14.1"},
        "a_key_from_a_later_version": 1,
    }
    (tmp_path / records.RESULT).write_text(json.dumps(old))
    result = records.read_result(tmp_path)
    assert isinstance(result, records.Result) and result.machine is None and result.label == "mixup"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"[1, 2]", "not a result record"),
        (b'{"id": "abc", "status": "maybe"}', "status is 'maybe'"),
        (b'{"id": "abc", "status": "ok", "metrics": [1]}', "metrics is not a mapping"),
        (b"{", "is not valid JSON"),
    ],
)
def test_an_unreadable_result_is_a_problem_not_an_exception(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    (tmp_path / records.RESULT).write_bytes(content)
    problem = records.read_result(tmp_path)
    assert isinstance(problem, records.Problem) and reason in str(problem)


def test_the_robustness_store_keeps_its_format_and_merges(tmp_path: Path) -> None:
    before = {"run_id": "abc", "version": 1, "evaluations": {"fgsm": {"online": {"error": 80.0}}}}
    (tmp_path / records.ROBUSTNESS).write_text(json.dumps(before))
    records.merge_robustness(tmp_path, "abc", "clean", {"online": {"top1": 70.0}})
    store = json.loads((tmp_path / records.ROBUSTNESS).read_text())
    assert store["evaluations"] == {"fgsm": {"online": {"error": 80.0}}, "clean": {"online": {"top1": 70.0}}}
    records.merge_robustness(
        tmp_path, "other", "clean", {"online": {"top1": 1.0}}
    )  # another job: starts over
    assert records.read_robustness(tmp_path).evaluations == {"clean": {"online": {"top1": 1.0}}}


def test_a_folder_of_the_layout_before_the_store_is_read_then_adopted(
    project: Path, capsys: pytest.CaptureFixture
) -> None:
    path = write_suite(project, ONE_JOB, "one.yaml")
    (job,) = suite.expand(suite.load(path))
    runs = project / "results" / "runs"
    legacy = runs / "tiny" / "synthetic" / "tiny_resnet" / "vanilla" / f"s0-{job.id[:8]}"
    legacy.mkdir(parents=True)
    (legacy / records.SPEC).write_text(json.dumps(job.to_record()))
    _finished(legacy, job.id, [10.0, 20.0])
    assert main(["status", "suites/one.yaml"]) == 0  # read where it is: status never moves folders
    assert "1 done" in capsys.readouterr().out and legacy.is_dir() and not legacy.is_symlink()
    assert main(["run", "suites/one.yaml"]) == 0
    output = capsys.readouterr().out
    assert "moved 1 run folder(s) into the run store" in output and "1 already finished, 0 run" in output
    store = job.run_dir(runs)
    assert store == runs / records.STORE / job.id and records.read_run(store, job).done
    assert legacy.is_symlink() and legacy.resolve() == store.resolve()  # the old path still leads there
    assert records.run_folders(runs) == [store] and records.run_folders(runs / "tiny") == [store.resolve()]
