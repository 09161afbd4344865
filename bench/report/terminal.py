"""A Markdown report shown in a terminal: its tables as rich tables, its emphasis as styles.

The reports are Markdown for GitHub and papers (`<br>` in headers, `**best**`, `<u>second</u>`);
printed raw, those marks bury the numbers. `render(text)` turns the subset the reports use into
rich renderables: headings, paragraphs and bullets with inline styles, and pipe tables. The file
on disk is not changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

_INLINE = re.compile(r"\*\*(?P<bold>.+?)\*\*|<u>(?P<under>.+?)</u>|`(?P<code>[^`]+)`|(?P<br><br\s*/?>)")
_STYLE = {"bold": "bold", "under": "underline", "code": "cyan"}


def inline(text: str) -> Text:
    """`**a**`, `<u>b</u>`, `` `c` `` and `<br>` as bold, underlined, code-coloured and a new line."""
    out = Text()
    position = 0
    for match in _INLINE.finditer(text):
        out.append(text[position : match.start()])
        kind = match.lastgroup
        if kind == "br":
            out.append("\n")
        else:
            inner = inline(match.group(kind)) if kind != "code" else Text(match.group(kind))
            inner.stylize(_STYLE[kind])
            out.append_text(inner)
        position = match.end()
    out.append(text[position:])
    return out


def _cells(row: str) -> list[str]:
    """The cells of `| a | b \\| c |` (an escaped pipe stays in its cell)."""
    row = row.strip()
    row = row[1:] if row.startswith("|") else row
    row = row[:-1] if row.endswith("|") and not row.endswith("\\|") else row
    parts = re.split(r"(?<!\\)\|", row)
    return [part.strip().replace("\\|", "|") for part in parts]


def _table(lines: list[str]) -> Table:
    header = _cells(lines[0])
    body = [line for line in lines[1:] if not re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*", line)]
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for i, name in enumerate(header):
        table.add_column(inline(name), justify="left" if i == 0 else "right")
    for line in body:
        cells = _cells(line)
        cells += [""] * (len(header) - len(cells))
        table.add_row(*(inline(c) for c in cells[: len(header)]))
    return table


def _blocks(text: str) -> Iterator[tuple[str, list[str]]]:
    """('table' | 'heading' | 'text' | 'blank', lines) in order."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("|"):
            start = i
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                i += 1
            yield "table", lines[start:i]
            continue
        yield ("heading" if line.startswith("#") else "blank" if not line.strip() else "text"), [line]
        i += 1


def render(text: str) -> list[RenderableType]:
    """Rich renderables for a Markdown report, in order (consecutive blank lines collapse)."""
    shown: list[RenderableType] = []
    previous = "blank"
    for kind, lines in _blocks(text):
        if kind == "blank" and previous == "blank":
            continue
        if kind == "table":
            shown.append(_table(lines))
        elif kind == "heading":
            level = len(lines[0]) - len(lines[0].lstrip("#"))
            heading = inline(lines[0].lstrip("#").strip())
            heading.stylize("bold underline" if level == 1 else "bold")
            shown.append(heading)
        else:
            shown.append(inline(lines[0]))
        previous = kind
    return shown
