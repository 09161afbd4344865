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
