"""bench.report.terminal: a Markdown report shown as styled text and tables, without its marks."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from bench.report.terminal import inline, render

REPORT = """# Leaderboard: tiny

Best of a column **bold**, second <u>underlined</u>; see `results/published/`.


| Method | CIFAR-100<br>ResNet-18 (800 ep) | pub. | Δ |
|---|---|---|---|
| MixUp | **79.12 ± 0.10** | 79.12 | n/c \\| [1] |
| CutMix | <u>78.17</u> (n=1) | — |
"""


def shown(text: str) -> str:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    for block in render(text):
        console.print(block)
    return console.file.getvalue()


def test_tables_become_rich_tables_with_their_cells() -> None:
    blocks = render(REPORT)
    tables = [b for b in blocks if isinstance(b, Table)]
    assert len(tables) == 1 and len(tables[0].columns) == 4 and tables[0].row_count == 2
    assert str(tables[0].columns[1].header) == "CIFAR-100\nResNet-18 (800 ep)"
    text = shown(REPORT)
    assert "79.12 ± 0.10" in text and "n/c | [1]" in text
    for mark in ("<br>", "<u>", "**", "|---", "`"):
        assert mark not in text
    assert text.count("\n\n\n") == 0  # blank lines collapse


def test_inline_marks_become_styles() -> None:
    text = inline("a **b** <u>c</u> `d`")
    assert text.plain == "a b c d"
    styles = {text.plain[span.start : span.end]: str(span.style) for span in text.spans}
    assert styles == {"b": "bold", "c": "underline", "d": "cyan"}
