"""Re-read every published value at its locator, from local clones of the sources.

A row read from a repository has the locator `owner/repo@commit:path line N, row 'R', column 'C'`.
`check` opens that file at that commit (`git show`), takes line N (a Markdown table row) and
confirms that its first cell is the row named and that a cell holds the value as printed. Run it
after cloning the sources, e.g.

    python -m bench.published.locators results/published \
        JinXins/Adversarial-AutoMixup=../Adversarial-AutoMixup Westlake-AI/openmixup=../openmixup

It prints one line per row it could not confirm and exits 1 if there was one; rows of sources
without a clone given (the paper's) are counted as not checked.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bench.published import table

_LOCATOR = re.compile(
    r"^(?P<repo>[\w.-]+/[\w.-]+)@(?P<commit>\w+):(?P<path>\S+) line (?P<line>\d+), row '(?P<row>[^']*)'"
)


def _cells(line: str) -> list[str]:
    cells = [
        re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", c).replace("*", "").replace("\N{OPEN BOOK}", "").strip()
        for c in line.strip().strip("|").split("|")
    ]
    return [re.sub(r"\(\d+\)$", "", c).strip() for c in cells]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def check_row(row: table.PublishedRow, clones: dict[str, Path]) -> str | None:
    """None if the value is at its locator; else why not ('' when the source has no clone given)."""
    match = _LOCATOR.match(row.locator)
    if match is None or match["repo"] not in clones:
        return ""
    shown = subprocess.run(
        ["git", "-C", str(clones[match["repo"]]), "show", f"{match['commit']}:{match['path']}"],
        capture_output=True,
        text=True,
    )
    if shown.returncode != 0:
        return f"cannot read {match['path']} at {match['commit']}: {shown.stderr.strip()}"
    lines = shown.stdout.splitlines()
    number = int(match["line"])
    if number > len(lines):
        return f"{match['path']} has {len(lines)} lines, not {number}"
    cells = _cells(lines[number - 1])
    label = match["row"].split(" / ")[0]
    if not cells or cells[0] != label:
        return f"line {number} is row {cells[0] if cells else ''!r}, not {label!r}"
    if not any(_number(c) == row.value for c in cells[1:]):
        return f"line {number} has no cell {row.value:g}"
    return None


def main(argv: list[str]) -> int:
    folder, pairs = Path(argv[0]), argv[1:]
    clones = {name: Path(path) for name, _, path in (p.partition("=") for p in pairs)}
    rows = table.load(folder)
    confirmed = unchecked = 0
    failures = []
    for row in rows:
        why = check_row(row, clones)
        if why is None:
            confirmed += 1
        elif why == "":
            unchecked += 1
        else:
            failures.append(f"{row.table} {'/'.join(map(str, row.cell))} {row.metric} {row.value:g}: {why}")
    print("\n".join(failures))
    print(
        f"{confirmed} rows confirmed at their locators, {len(failures)} not, {unchecked} without a clone to read"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
