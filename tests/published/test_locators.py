"""Locators re-read from a clone: a value at its line is confirmed; a moved or changed one is not."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench.published import locators, table

README = """# Results
| Name | alpha | ResNet18 |
|------|-------|----------|
| [MixUp](https://arxiv.org/abs/1710.09412) | 1.0 | 79.12 |
| AdAutoMix | 1.0 | **82.32** |
"""


def clone(tmp_path: Path) -> tuple[Path, str]:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text(README)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    subprocess.run([*git, "add", "README.md"], check=True)
    subprocess.run([*git, "commit", "-qm", "tables"], check=True)
    commit = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return repo, commit


def row(locator: str, value: float) -> table.PublishedRow:
    return table.PublishedRow(
        "T", "cifar100", "resnet18", "mixup", 800, "top1", value, "openmixup_median10", "online", "primary",
        "src", locator, "found: x", "", "",
    )  # fmt: skip


def test_values_are_confirmed_at_their_line_and_column(tmp_path: Path) -> None:
    repo, commit = clone(tmp_path)
    clones = {"o/r": repo}
    at = f"o/r@{commit}:README.md line {{}}, row '{{}}', column 'ResNet18'"
    assert locators.check_row(row(at.format(4, "MixUp"), 79.12), clones) is None
    assert locators.check_row(row(at.format(5, "AdAutoMix"), 82.32), clones) is None  # bold and all
    assert "no cell 79.2" in locators.check_row(row(at.format(4, "MixUp"), 79.2), clones)
    assert "not 'MixUp'" in locators.check_row(row(at.format(5, "MixUp"), 82.32), clones)
    assert "has 5 lines" in locators.check_row(row(at.format(9, "MixUp"), 79.12), clones)
    assert (
        locators.check_row(row(at.format(4, "MixUp").replace("o/r", "x/y"), 79.12), clones) == ""
    )  # no clone
