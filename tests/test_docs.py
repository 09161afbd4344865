"""The README's promises that a test can check."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def _readme_commands() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci_lines = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line and not line.startswith(("#", "set ", "cd "))
    ]
    assert ci_lines == [_readme_commands()[1]]


def test_readme_starts_with_the_smoke_suite() -> None:
    assert "bench run suites/smoke.yaml" in _readme_commands()[0]
    assert (ROOT / "suites" / "smoke.yaml").exists()


def test_paths_named_in_the_readme_exist() -> None:
    text = (ROOT / "README.md").read_text()
    for path in re.findall(r"`((?:bench|suites|tests|results/published)/[\w./]+)`", text):
        if not any(ch in path for ch in "<*"):
            assert (ROOT / path).exists(), path


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.mark.slow
def test_readme_first_command_leaves_a_fresh_clone_clean(tmp_path: Path) -> None:
    """README command 1 on a fresh clone, shortened: the install's traces in the checkout (a venv;
    setuptools' egg-info and build/ are checked to be ignored), then `bench run suites/smoke.yaml`
    on two of its jobs at a tenth of their epochs and data (the same kinds of files are written as
    for all nine at full scale: run folders, the report, its CSV and figures; 20 s instead of 90),
    plus `bench visualize` and `bench robustness`, which write beside them. `git status` must
    stay empty, and what they wrote must be there (and ignored)."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if k != "BENCH_DATA_ROOT"}

    def run(*command: str) -> None:
        done = subprocess.run(command, cwd=clone, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}\n{done.stderr[-2000:]}"

    run(sys.executable, "-m", "venv", "--without-pip", ".venv")
    # pip install -e . also leaves setuptools' egg-info and build/ in the checkout (not rebuilt here:
    # that needs the package index for setuptools>=77)
    for path in ("mixup_bench.egg-info/PKG-INFO", "build/lib/bench/cli.py"):
        run("git", "check-ignore", "--quiet", path)
    bench = (sys.executable, "-m", "bench")  # the clone's own code: cwd comes first on sys.path
    run(
        *bench,
        "run",
        "suites/smoke.yaml",
        "--scale",
        "0.1",
        "--only",
        "method=vanilla,mixup",
        "--only",
        "seed=0",
    )
    run(*bench, "visualize", "--dataset", "synthetic", "--methods", "cutmix", "--train-steps", "0")
    run(*bench, "robustness", "results/runs/smoke", "--ece")

    assert _git("status", "--porcelain", cwd=clone) == ""
    ignored = _git("status", "--porcelain", "--ignored", cwd=clone)
    for written in ("results/runs/", ".venv/", "reports/smoke-scale0.1.md", "reports/figures/"):
        assert f"!! {written}" in ignored, ignored
    assert "reports/README.md" in _git("ls-files", "reports", cwd=clone)
    for report in ("smoke-scale0.1.md", "smoke-scale0.1-top1.png", "robustness.md", "figures/mixed.png"):
        assert (clone / "reports" / report).is_file(), report


def test_readme_prints_the_tally_the_released_logs_give() -> None:
    from bench.published import logs, table, tally

    published = ROOT / "results" / "published"
    found = tally.checks(table.load(published), logs.load_logs(published / "logs"))
    assert f"**{tally.line(found)}**" in (ROOT / "README.md").read_text()
