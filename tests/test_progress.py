"""bench.progress: plain lines with done/total and an ETA where there is no terminal."""

from __future__ import annotations

import io

from bench.progress import clock, progress


def test_plain_lines_report_done_total_and_eta() -> None:
    stream = io.StringIO()
    with progress("corruptions", total=4, stream=stream, every_s=0.0) as bar:
        bar.advance()
        bar.advance(2)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("corruptions: 1/4 (") and "ETA" in lines[0]
    assert lines[1].startswith("corruptions: 3/4 (")
    assert lines[-1].startswith("corruptions: 3/4 (")  # the closing line says where it stopped


def test_plain_lines_are_rate_limited_and_the_last_has_no_eta() -> None:
    stream = io.StringIO()
    with progress("jobs", total=3, stream=stream, every_s=3600.0) as bar:
        for _ in range(3):
            bar.advance()
    lines = stream.getvalue().splitlines()
    assert lines == [lines[-1]] and lines[0].startswith("jobs: 3/3 (") and "ETA" not in lines[0]


def test_unknown_total_and_relabel() -> None:
    stream = io.StringIO()
    with progress("steps", total=None, stream=stream, every_s=0.0) as bar:
        bar.describe("training Mix Block")
        bar.advance()
    assert stream.getvalue().splitlines()[0].startswith("training Mix Block: 1 done (")


def test_clock() -> None:
    assert (clock(5), clock(65), clock(3725)) == ("0:05", "1:05", "1:02:05")


def test_eta_is_the_average_rate_times_the_steps_left() -> None:
    from bench.progress import eta_seconds

    assert eta_seconds(2, 10, 4.0) == 16.0
    assert eta_seconds(0, 10, 4.0) is None and eta_seconds(10, 10, 4.0) is None
    assert eta_seconds(3, None, 4.0) is None


def test_a_terminal_gets_a_rich_bar_with_an_eta() -> None:
    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True, width=100, color_system=None)
    with progress("epochs", total=4, console=console) as bar:
        bar.advance(2)
        assert bar.remaining() is not None
        console.print("a line above the bar")
    text = console.file.getvalue()
    assert "epochs" in text and "2/4" in text and "ETA" in text and "a line above the bar" in text
