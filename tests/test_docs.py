"""The README's promises that a test can check."""

from __future__ import annotations

import re
from pathlib import Path

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
