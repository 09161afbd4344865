"""Malformed suites, settings and flags: one clear message, exit status 2, no traceback, and
nothing written (no run folder, no report). The suites are real files under fixtures/suites."""

from __future__ import annotations

import shutil
import tracemalloc
from pathlib import Path

import pytest

from bench.cli import main
from bench.safe_io import SAFE_NAME_RULE

FIXTURES = Path(__file__).parent / "fixtures" / "suites"

# fixture file -> what the message must say (beside the file's name)
BAD_SUITES = {
    "name_traversal.yaml": ("name:", "'../escaped' is not a safe name", SAFE_NAME_RULE),
    "name_absolute.yaml": ("name:", "'/tmp/absolute' is not a safe name"),
    "name_empty.yaml": ("name:", "'' is not a safe name"),
    "name_dot.yaml": ("name:", "'.' is not a safe name"),
    "label_traversal.yaml": ("axes.methods[1]", "'../../../x' is not a safe name", SAFE_NAME_RULE),
    "label_slash.yaml": ("axes.methods[1]", "'a/b' is not a safe name"),
    "zero_jobs.yaml": ("exclude", "the suite has no job"),
    "lr_inf.yaml": ("recipe.optimizer.lr", "expected a finite number, got inf"),
    "lr_inf_string.yaml": ("recipe.optimizer.lr", "expected a finite number, got inf"),
    "warmup_inf.yaml": ("recipe.schedule.warmup_epochs", "expected a finite number, got inf"),
    "alpha_nan.yaml": ("params of mixup", ").alpha: expected a finite number, got nan"),
    "min_lr_above_lr.yaml": ("schedule.min_lr (4.5) must not exceed optimizer.lr (0.1)",),
    "window_zero.yaml": ("report: ", "unknown reducer 'median_last0'", "K an integer >= 1"),
    "duplicate_seeds.yaml": ("axes.seeds", "lists 0 more than once"),
    "duplicate_backbones.yaml": ("axes.backbones", "lists tiny_resnet more than once"),
    "not_utf8.yaml": ("not UTF-8 text (byte 0xe9 on line 1)",),
    "alias_bomb.yaml": ("aliases (*name) expand to more than 100,000 values",),
    "invalid_yaml.yaml": ("invalid YAML (line",),
    "duplicate_key.yaml": ("invalid YAML", "duplicate key 'epochs'"),
    "python_tag.yaml": ("invalid YAML", "could not determine a constructor"),
    "not_a_mapping.yaml": ("expected a mapping",),
}


def _nothing_written(project: Path) -> None:
    assert not (project / "results").exists() and not (project / "reports").exists()


@pytest.mark.parametrize("command", ["run", "plan"])
@pytest.mark.parametrize("name", sorted(BAD_SUITES))
def test_a_bad_suite_is_one_message_and_nothing_is_written(
    project: Path, capsys: pytest.CaptureFixture, name: str, command: str
) -> None:
    suite = project / "suites" / name
    shutil.copy(FIXTURES / name, suite)
    assert main([command, str(suite)]) == 2
    captured = capsys.readouterr()
    message = " ".join(captured.err.split())  # rich wraps long lines
    assert message.startswith("error: ") and str(suite) in message
    for part in BAD_SUITES[name]:
        assert " ".join(part.split()) in message, (part, message)
    assert "Traceback" not in captured.err + captured.out and len(message) < 2000
    _nothing_written(project)


def test_an_alias_bomb_is_measured_never_expanded() -> None:
    """451 bytes that expand to 387 million strings: refused within a few megabytes."""
    from bench import suite as suite_mod
    from bench.errors import BenchError

    tracemalloc.start()
    try:
        with pytest.raises(BenchError, match="expand to more than 100,000 values"):
            suite_mod.load(FIXTURES / "alias_bomb.yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20


def test_every_fixture_has_an_expected_message() -> None:
    assert sorted(p.name for p in FIXTURES.iterdir()) == sorted(BAD_SUITES)


def test_a_folder_given_as_the_suite(project: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["run", "suites"]) == 2
    err = capsys.readouterr().err
    assert "suites: is a folder, not a suite file" in err and "Traceback" not in err
    _nothing_written(project)


def test_a_missing_device_is_refused_before_any_job_starts(
    project: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["run", "suites/tiny.yaml", "--device", "cuda"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "torch sees no CUDA device on this machine" in err and "Traceback" not in err
    _nothing_written(project)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'[run]\nexecutor = "inline"\ncpu_workers = \xff\n', "not UTF-8 text"),
        (b"[run]\ncpu_workers = inf\n", "expected an integer"),
        (b"[slurm]\nmem_gb_per_gpu = nan\n", "expected a finite number, got nan"),
    ],
    ids=["not-utf8", "int-inf", "float-nan"],
)
def test_a_bad_settings_file_is_one_message(
    project: Path, capsys: pytest.CaptureFixture, content: bytes, expected: str
) -> None:
    (project / "bench.toml").write_bytes(content)
    assert main(["plan", "suites/tiny.yaml"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "bench.toml" in err and expected in err and "Traceback" not in err


def test_a_folder_given_as_the_settings_file(project: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--config", "suites", "plan", "suites/tiny.yaml"]) == 2
    err = capsys.readouterr().err
    assert "is a folder, not a settings file" in err and "Traceback" not in err


def test_a_report_name_must_be_a_safe_file_name(project: Path, capsys: pytest.CaptureFixture) -> None:
    (project / "results" / "runs").mkdir(parents=True)
    (project / "results" / "runs" / "spec.json").write_text("{}")
    assert main(["robustness", "results/runs", "--fgsm", "--name", "../../outside"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "--name '../../outside' is not a safe name" in err and SAFE_NAME_RULE in err
    assert not (project.parent / "outside.md").exists() and not (project / "reports").exists()
