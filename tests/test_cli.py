"""The `bench` command end to end, as a user runs it: exit codes, messages, files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import records
from bench.cli import main
from tests.conftest import write_suite


def bench(*args: str) -> int:
    return main(list(args))


def run_dirs(project: Path) -> list[Path]:
    return sorted(p.parent for p in (project / "results" / "runs").rglob(records.SPEC))


def test_run_trains_writes_leaderboard_and_skips_finished_jobs(
    project: Path, capsys: pytest.CaptureFixture
) -> None:
    assert bench("run", "suites/tiny.yaml") == 0
    output = capsys.readouterr().out
    assert "0 already finished, 3 run" in output
    board = (project / "reports" / "tiny.md").read_text()
    for method in ("Vanilla", "MixUp", "CutMix"):
        assert f"| {method} | " in board
    assert (project / "reports" / "tiny.csv").read_text().startswith("method,dataset,backbone")
    assert len(run_dirs(project)) == 3

    checkpoints = {p: p.stat().st_mtime_ns for p in (project / "results").rglob(records.CHECKPOINT)}
    assert bench("run", "suites/tiny.yaml") == 0
    assert "3 already finished, 0 run" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in checkpoints} == checkpoints  # nothing retrained

    assert bench("leaderboard", "suites/tiny.yaml") == 0
    shown = capsys.readouterr().out
    assert "Vanilla" in shown and "tiny_resnet (2 ep)" in shown
    for mark in ("<br>", "<u>", "**", "|---"):  # a table for a terminal, not Markdown source
        assert mark not in shown
    assert "<br>" in board  # the file itself stays Markdown


def test_local_executor_runs_jobs_in_worker_processes(project: Path) -> None:
    assert bench("run", "suites/tiny.yaml", "--executor", "local", "--workers", "2") == 0
    for run_dir in run_dirs(project):
        assert records.read_result(run_dir).status == "ok"
        assert (run_dir / "worker.log").exists()


def test_a_failing_job_is_a_row_not_a_crash(project: Path, capsys: pytest.CaptureFixture) -> None:
    text = (
        (project / "suites" / "tiny.yaml").read_text()
        + """
overrides:
  - match: {method: mixup}
    set: {recipe.optimizer.lr: 1.0e+12}
"""
    )
    path = write_suite(project, text, "failing.yaml")
    assert bench("run", str(path)) == 1
    captured = capsys.readouterr()
    assert "loss became" in captured.err
    board = (project / "reports" / "tiny.md").read_text()
    assert "| MixUp | failed" in board and "Failed and invalid runs" in board
    assert "| Vanilla | " in board and "| Vanilla | error" not in board


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "name: x\naxes: {methods: [mixupp], backbones: [tiny_resnet], datasets: [synthetic], seeds: [0]}\n",
            ["bad.yaml", "axes.methods[0]", "did you mean 'mixup'"],
        ),
        (
            "name: x\naxes: {methods: [mixup], backbones: [tiny_resnet], datasets: [synthetic], seeds: []}\n",
            ["bad.yaml", "axes.seeds", "must not be empty"],
        ),
        (
            "name: x\naxes: {methods: [mixup], backbones: [tiny_resnet], datasets: [synthetic], seeds: [0]}\nrecipe: {epochs: many}\n",
            ["bad.yaml", "recipe.epochs", "expected an integer"],
        ),
        ("name: [x\n", ["bad.yaml", "invalid YAML"]),
    ],
)
def test_bad_suites_exit_2_with_file_and_key_and_touch_nothing(
    project: Path, capsys: pytest.CaptureFixture, yaml_text: str, expected: list[str]
) -> None:
    write_suite(project, yaml_text, "bad.yaml")
    assert bench("run", "suites/bad.yaml") == 2
    err = capsys.readouterr().err
    for word in expected:
        assert word in err
    assert "Traceback" not in err
    assert not (project / "results").exists() and not (project / "reports").exists()


def test_missing_dataset_is_reported_before_any_job_starts(
    project: Path, capsys: pytest.CaptureFixture
) -> None:
    text = (project / "suites" / "tiny.yaml").read_text().replace("[synthetic]", "[synthetic, cifar100]")
    write_suite(project, text, "needs_cifar.yaml")
    assert bench("run", "suites/needs_cifar.yaml") == 2
    err = capsys.readouterr().err
    assert str(project / "data" / "cifar-100-python") in err and "Expected layout" in err
    assert not (project / "results").exists()


def test_data_root_precedence(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    text = (project / "suites" / "tiny.yaml").read_text().replace("[synthetic]", "[cifar10]")
    write_suite(project, text, "c10.yaml")
    monkeypatch.setenv("BENCH_DATA_ROOT", str(project / "from_env"))
    assert bench("plan", "suites/c10.yaml") == 0
    assert bench("run", "suites/c10.yaml") == 2
    assert str(project / "from_env" / "cifar-10-batches-py") in capsys.readouterr().err
    assert bench("run", "suites/c10.yaml", "--data-root", str(project / "from_flag")) == 2
    assert str(project / "from_flag" / "cifar-10-batches-py") in capsys.readouterr().err


def test_plan_and_ls(project: Path, capsys: pytest.CaptureFixture) -> None:
    assert bench("plan", "suites/tiny.yaml") == 0
    output = capsys.readouterr().out
    assert "3 methods × 1 backbone × 1 dataset × 1 seed → 3 jobs: 0 finished, 3 pending" in output
    assert not (project / "results").exists()
    assert bench("ls", "methods") == 0
    output = capsys.readouterr().out
    assert "mixup" in output and "1710.09412" in output


def test_killed_run_resumes_with_nothing_lost(project: Path) -> None:
    """Kill -9 the whole `bench run` process group mid-run, then run again: every job completes."""
    text = (project / "suites" / "tiny.yaml").read_text().replace("epochs: 2", "epochs: 6")
    write_suite(project, text, "long.yaml")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    cmd = [sys.executable, "-m", "bench", "run", "suites/long.yaml", "--executor", "local", "--workers", "1"]
    proc = subprocess.Popen(
        cmd,
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 60
    checkpoints: list[Path] = []
    while time.time() < deadline and not checkpoints:
        checkpoints = (
            list((project / "results").rglob(records.CHECKPOINT)) if (project / "results").exists() else []
        )
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert checkpoints, "no checkpoint appeared within a minute"
    interrupted = checkpoints[0].parent
    assert records.read_result(interrupted) is None
    done = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "resuming after epoch" in (interrupted / records.LOG).read_text()
    for run_dir in run_dirs(project):
        record = records.read_result(run_dir)
        assert record.status == "ok" and record.epochs_completed == 6
        assert [r.epoch for r in records.read_metrics(run_dir)[0]] == list(range(1, 7))


@pytest.mark.parametrize("scale", ["0", "-0.5", "1.5"])
def test_a_scale_outside_0_to_1_is_refused_not_ignored(
    project: Path, capsys: pytest.CaptureFixture, scale: str
) -> None:
    assert bench("plan", "suites/tiny.yaml", "--scale", scale) == 2
    assert "--scale must be in (0, 1]" in capsys.readouterr().err


def test_a_mistyped_command_gets_close_matches_and_no_internal_commands(
    capsys: pytest.CaptureFixture,
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench("lederboard", "suites/tiny.yaml")
    assert exit_info.value.code == 2
    message = capsys.readouterr().err
    assert "unknown command 'lederboard' (did you mean 'leaderboard'?)" in message
    assert "run, plan" in message and "_worker" not in message and "_rank" not in message


def test_version_and_help_list_only_public_commands(capsys: pytest.CaptureFixture) -> None:
    from bench import __version__

    with pytest.raises(SystemExit):
        bench("--version")
    assert capsys.readouterr().out.strip() == f"bench {__version__} (mixup-bench)"
    with pytest.raises(SystemExit):
        bench("--help")
    text = capsys.readouterr().out
    assert "leaderboard" in text and "_worker" not in text and "_rank" not in text


def test_every_option_of_every_public_command_has_help() -> None:
    import argparse

    from bench.cli import parser, public_commands

    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = []
    for name in public_commands(sub):
        commands = [(name, sub.choices[name])]
        while commands:  # `bench data check` is a command of a command
            label, command = commands.pop()
            for action in command._actions:
                if isinstance(action, argparse._SubParsersAction):
                    commands += [(f"{label} {n}", p) for n, p in action.choices.items()]
                if action.help is None and not isinstance(action, argparse._HelpAction):
                    missing.append(f"{label} {'/'.join(action.option_strings) or action.dest}")
    assert len(public_commands(sub)) >= 10
    assert missing == []


def test_a_missing_suite_is_reported_before_torch_is_imported_with_the_suites_there(
    project: Path,
) -> None:
    code = (
        "import sys; from bench.cli import main; rc = main(['run', 'suites/tinny.yaml']); "
        "print('torch imported' if 'torch' in sys.modules else 'torch not imported'); sys.exit(rc)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "torch not imported" in done.stdout
    assert "suites/tinny.yaml: no such suite file (did you mean suites/tiny.yaml?)" in done.stderr
    assert "suites in suites/: tiny.yaml" in done.stderr


def test_no_bench_toml_is_a_warning_naming_the_folder_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from tests.conftest import TINY_SUITE

    (tmp_path / "tiny.yaml").write_text(TINY_SUITE)
    monkeypatch.chdir(tmp_path)
    assert bench("plan", "tiny.yaml") == 0
    warning = " ".join(capsys.readouterr().err.split())
    assert f"no bench.toml in {tmp_path} or above" in warning
    assert "runs in results/runs/" in warning and "does not exist: no published numbers" in warning
    assert "checkout" in warning
