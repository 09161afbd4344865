"""Records are believed only when they agree with each other.

A finished suite's run folders are damaged one way at a time (a torn or shortened metrics file,
a line that is not UTF-8, a final value that disagrees, a halved checkpoint, an unreadable or
folder result.json). Each time `bench status` calls the job interrupted and says why, the
leaderboard leaves the cell out and says why, and the next `bench run` resumes the job from its
checkpoint (or retrains it when the checkpoint is the damaged file) to the same numbers.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bench import records
from bench import settings as settings_mod
from bench import suite as suite_mod
from bench.cli import main
from bench.report import leaderboard
from bench.report.collect import collect
from bench.status import job_state
from tests.conftest import TINY_SUITE

BENCH_TOML = '[run]\nexecutor = "inline"\nthreads_per_job = 1\n'


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose tiny suite (vanilla, mixup, cutmix; 2 epochs) has run to the end."""
    root = tmp_path_factory.mktemp("finished")
    (root / "bench.toml").write_text(BENCH_TOML)
    (root / "suites").mkdir()
    (root / "suites" / "tiny.yaml").write_text(TINY_SUITE)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.delenv("BENCH_DATA_ROOT", raising=False)
        assert main(["run", "suites/tiny.yaml"]) == 0
    return root


@pytest.fixture
def copy(finished: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = tmp_path / "project"
    shutil.copytree(finished, project, symlinks=True)  # the views are relative links
    monkeypatch.chdir(project)
    monkeypatch.delenv("BENCH_DATA_ROOT", raising=False)
    return project


def _jobs(project: Path) -> dict[str, object]:
    return {j.method: j for j in suite_mod.expand(suite_mod.load(project / "suites" / "tiny.yaml"))}


def _without_seconds(rows: tuple[records.MetricsRow, ...]) -> list[dict]:
    return [{k: v for k, v in r.to_dict().items() if "seconds" not in k} for r in rows]


def _cut_metrics(d: Path) -> None:
    data = (d / records.METRICS).read_bytes()
    (d / records.METRICS).write_bytes(data[:-40])


def _drop_last_epoch(d: Path) -> None:
    lines = (d / records.METRICS).read_bytes().splitlines(keepends=True)
    (d / records.METRICS).write_bytes(b"".join(lines[:-1]))


def _not_utf8_line(d: Path) -> None:
    data = (d / records.METRICS).read_bytes()
    (d / records.METRICS).write_bytes(data.replace(b'"epoch"', b'"\xffpoch"', 1))


def _final_disagrees(d: Path) -> None:
    rows = records.read_metrics(d)[0]
    changed = dataclasses.replace(rows[-1], test_top1={"online": 99.9})
    records.write_metrics(d, [*rows[:-1], changed])


def _halve_checkpoint(d: Path) -> None:
    data = (d / records.CHECKPOINT).read_bytes()
    (d / records.CHECKPOINT).write_bytes(data[: len(data) // 2])


def _result_not_utf8(d: Path) -> None:
    (d / records.RESULT).write_bytes(b'{"id": "\xff"}')


DAMAGES: dict[str, tuple[Callable[[Path], None], str, str]] = {
    # name: (damage, what the reason says, what the re-run does)
    "torn": (_cut_metrics, "metrics.jsonl: line 2 is cut short or not JSON", "resumes"),
    "short": (_drop_last_epoch, "metrics.jsonl: holds 1 epochs, but result.json says 2", "resumes"),
    "not-utf8": (_not_utf8_line, "metrics.jsonl: line 1 is not UTF-8 text", "resumes"),
    "disagrees": (_final_disagrees, "ends on online top-1 99.9, but result.json says", "resumes"),
    "halved-checkpoint": (_halve_checkpoint, "last.pt: is not a whole checkpoint", "retrains"),
    "result-not-utf8": (_result_not_utf8, "result.json: is not UTF-8 text", "resumes"),
}


@pytest.mark.parametrize("name", sorted(DAMAGES))
def test_damaged_records_are_interrupted_left_out_and_repaired(
    copy: Path, capsys: pytest.CaptureFixture, name: str
) -> None:
    damage, reason, repair = DAMAGES[name]
    settings = settings_mod.load(copy / "bench.toml")
    jobs = _jobs(copy)
    run_dir = jobs["cutmix"].run_dir(settings.runs_root)
    before = records.read_run(run_dir, jobs["cutmix"])
    assert before.done
    damage(run_dir)

    run = records.read_run(run_dir, jobs["cutmix"])
    assert run.state == "interrupted" and reason in str(run.problem), run.problem
    state = job_state(jobs["cutmix"], settings.runs_root)
    assert state.state == "interrupted" and state.detail.startswith(f"records not trusted: {run.problem}")
    assert main(["status", "suites/tiny.yaml"]) == 0
    assert "2 done, 1 interrupted" in capsys.readouterr().out

    suite = suite_mod.load(copy / "suites" / "tiny.yaml")
    cells = {c.method: c for c in collect(suite, settings)}
    assert cells["cutmix"].values == [] and reason in cells["cutmix"].invalid[0]
    assert cells["mixup"].n == 1 and cells["vanilla"].n == 1  # the others stand
    board = leaderboard.markdown(list(cells.values()), title="t", source_note="")
    assert "| CutMix | invalid" in board and "Failed and invalid runs:" in board

    assert main(["run", "suites/tiny.yaml"]) == 0
    output = capsys.readouterr().out
    assert "2 already finished, 1 run" in output and "0 failed" in output
    log = (run_dir / records.LOG).read_text()
    assert ("resuming after epoch 2" in log) == (repair == "resumes")
    assert ("is unusable" in log) == (repair == "retrains")
    after = records.read_run(run_dir, jobs["cutmix"])
    assert after.done and _without_seconds(after.metrics) == _without_seconds(before.metrics)
    assert after.result.metrics == before.result.metrics


def test_the_issue_scenario_end_to_end(copy: Path, capsys: pytest.CaptureFixture) -> None:
    """metrics.jsonl with its last 40 bytes cut beside a result.json that says done: the
    leaderboard on disk leaves CutMix out and says why; nothing prints a traceback."""
    settings = settings_mod.load(copy / "bench.toml")
    run_dir = _jobs(copy)["cutmix"].run_dir(settings.runs_root)
    _cut_metrics(run_dir)
    assert main(["leaderboard", "suites/tiny.yaml"]) == 0
    captured = capsys.readouterr()
    board = (copy / "reports" / "tiny.md").read_text()
    assert "| CutMix | invalid" in board
    assert "CutMix / tiny_resnet / synthetic, seed 0: metrics.jsonl: line 2 is cut short" in board.replace(
        "cutmix", "CutMix"
    )
    assert "Traceback" not in captured.out + captured.err


def test_a_result_that_is_a_folder_is_an_error_naming_it(copy: Path, capsys: pytest.CaptureFixture) -> None:
    settings = settings_mod.load(copy / "bench.toml")
    jobs = _jobs(copy)
    run_dir = jobs["cutmix"].run_dir(settings.runs_root)
    (run_dir / records.RESULT).unlink()
    (run_dir / records.RESULT).mkdir()
    assert "result.json: is a folder" in job_state(jobs["cutmix"], settings.runs_root).detail
    assert main(["status", "suites/tiny.yaml"]) == 0
    assert main(["leaderboard", "suites/tiny.yaml"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert (
        "seed 0: result.json: is a folder, not a regular file" in (copy / "reports" / "tiny.md").read_text()
    )
    assert main(["run", "suites/tiny.yaml"]) == 1  # the job cannot be written; the others stand
    captured = capsys.readouterr()
    message = " ".join(captured.err.split())
    assert f"{run_dir / records.RESULT} is a folder, not a regular file" in message
    assert "Traceback" not in captured.out + captured.err
    assert (run_dir / records.RESULT).is_dir()  # a folder bench did not make is not deleted
    assert records.read_run(jobs["mixup"].run_dir(settings.runs_root), jobs["mixup"]).done


def test_a_shared_job_is_trained_once(copy: Path, capsys: pytest.CaptureFixture) -> None:
    """A second suite with one of the first suite's jobs (the same content, so the same id)
    reuses its run folder: nothing trains, and both suites' views lead to the one folder."""
    text = TINY_SUITE.replace("name: tiny", "name: other").replace(
        "methods: [vanilla, mixup, cutmix]", "methods: [mixup]"
    )
    (copy / "suites" / "other.yaml").write_text(text)
    settings = settings_mod.load(copy / "bench.toml")
    shared = _jobs(copy)["mixup"]
    checkpoint = shared.run_dir(settings.runs_root) / records.CHECKPOINT
    written = checkpoint.stat().st_mtime_ns
    assert main(["run", "suites/other.yaml"]) == 0
    assert "1 already finished, 0 run" in capsys.readouterr().out
    assert checkpoint.stat().st_mtime_ns == written
    views = sorted((copy / "results" / "runs").glob("*/synthetic/tiny_resnet/mixup/s0-*"))
    assert [v.parent.parts[-4] for v in views] == ["other", "tiny"]
    assert all(v.is_symlink() and v.resolve() == shared.run_dir(settings.runs_root).resolve() for v in views)
    assert not os.path.isabs(os.readlink(views[0]))  # relative: the results folder can move
    board = (copy / "reports" / "other.md").read_text()
    assert "| MixUp | " in board and "not run" not in board
