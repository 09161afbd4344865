"""Reports are written all or nothing: a failure while rendering any file of the set leaves the
previous reports exactly as they were, and no staging folder behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import safe_io
from bench import suite as suite_mod
from bench.report import plots
from bench.report.write import staged, write_leaderboard
from bench.settings import Settings


def test_a_failing_figure_leaves_the_previous_report_set(
    project: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = suite_mod.load(project / "suites" / "tiny.yaml")
    md, csv_path, figures = write_leaderboard(suite, settings)
    before = {p: p.read_bytes() for p in [md, csv_path, *figures]}

    def broken(*args, **kwargs):
        raise RuntimeError("the delta plot failed")

    monkeypatch.setattr(plots, "draw_delta", broken)  # the last file of the set to be rendered
    with pytest.raises(RuntimeError, match="the delta plot failed"):
        write_leaderboard(suite, settings)
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(p.name for p in settings.reports_dir.iterdir()) == sorted(p.name for p in before)


def test_staging_refuses_a_name_that_is_not_one_safe_component(tmp_path: Path) -> None:
    with pytest.raises(safe_io.UnsafePath, match="report file name"), staged(tmp_path / "reports") as stage:
        (stage / "-rf").write_text("x")
    assert list((tmp_path / "reports").iterdir()) == []


def test_the_report_side_never_imports_the_training_code() -> None:
    """Reports read records (bench.records) and published data, never bench.train."""
    import subprocess
    import sys

    code = (
        "import sys, bench.report.write, bench.report.robustness, bench.commands.leaderboard, bench.status; "
        "print(sorted(m for m in sys.modules if m == 'bench.train'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
