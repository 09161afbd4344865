"""No file bench writes in a run or report folder is written through a link, and no write lands
outside its root: a `lock`, `log.txt`, `worker.log`, record or report that someone replaced by a
link to another file is refused with a message naming it, and the other file is left untouched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench import locks, records, safe_io, suite
from bench.cli import main
from tests.conftest import TINY_SUITE, write_suite

ONE_JOB = TINY_SUITE.replace("[vanilla, mixup, cutmix]", "[vanilla]").replace("epochs: 2", "epochs: 1")
SECRET = b"someone else's file\n"


def _one_job(project: Path) -> tuple[object, Path]:
    path = write_suite(project, ONE_JOB, "one.yaml")
    (job,) = suite.expand(suite.load(path))
    return job, job.run_dir(project / "results" / "runs")


@pytest.mark.parametrize(
    "name", [locks.LOCK, records.LOG, records.RESULT, records.METRICS, records.CHECKPOINT]
)
@pytest.mark.parametrize("executor", ["inline", "local"])
def test_a_record_that_is_a_link_is_refused_and_its_target_untouched(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture, name: str, executor: str
) -> None:
    if executor == "local" and name not in (locks.LOCK, records.LOG):
        pytest.skip("the same check runs in the worker; two files are enough to show it there")
    job, run_dir = _one_job(project)
    records.prepare(job, project / "results" / "runs")
    victim = tmp_path / "victim.txt"
    victim.write_bytes(SECRET)
    (run_dir / name).symlink_to(victim)
    assert main(["run", "suites/one.yaml", "--executor", executor]) == 1
    captured = capsys.readouterr()
    message = " ".join(captured.err.split())
    assert f"{run_dir / name} is a symbolic link" in message, message
    assert "Traceback" not in captured.out + captured.err
    assert victim.read_bytes() == SECRET  # not truncated, not appended to, not replaced
    assert (run_dir / name).is_symlink()  # bench does not remove what it did not make


def test_a_worker_log_that_is_a_link_is_refused(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    job, run_dir = _one_job(project)
    records.prepare(job, project / "results" / "runs")
    victim = tmp_path / "victim.txt"
    victim.write_bytes(SECRET)
    (run_dir / records.WORKER_LOG).symlink_to(victim)
    assert main(["run", "suites/one.yaml", "--executor", "local"]) == 1
    message = " ".join(capsys.readouterr().err.split())
    assert f"{run_dir / records.WORKER_LOG} is a symbolic link" in message
    assert victim.read_bytes() == SECRET


def test_a_report_that_is_a_link_is_refused_and_no_report_is_half_written(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _one_job(project)
    victim = tmp_path / "victim.md"
    victim.write_bytes(SECRET)
    (project / "reports").mkdir()
    (project / "reports" / "tiny.md").symlink_to(victim)
    assert main(["leaderboard", "suites/tiny.yaml"]) == 2
    message = " ".join(capsys.readouterr().err.split())
    assert f"{project / 'reports' / 'tiny.md'} is a symbolic link" in message
    assert victim.read_bytes() == SECRET
    assert sorted(p.name for p in (project / "reports").iterdir()) == ["tiny.md"]  # all or nothing


def test_a_run_folder_that_is_a_link_out_of_the_runs_root_is_refused(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _, run_dir = _one_job(project)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run_dir.parent.mkdir(parents=True)
    run_dir.symlink_to(elsewhere)
    assert main(["run", "suites/one.yaml"]) == 1
    message = " ".join(capsys.readouterr().err.split())
    assert f"{run_dir} is a symbolic link, not a folder" in message
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("kind", ["symlink", "fifo", "hardlink", "folder"])
def test_open_in_place_refuses_anything_but_a_regular_file_of_its_own(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "other"
    target.write_bytes(SECRET)
    path = tmp_path / "lock"
    if kind == "symlink":
        path.symlink_to(target)
    elif kind == "fifo":
        os.mkfifo(path)  # a plain open for writing would wait forever for a reader
    elif kind == "hardlink":
        os.link(target, path)
    else:
        path.mkdir()
    with pytest.raises(safe_io.UnsafePath, match=str(path)):
        safe_io.open_in_place(path, os.O_RDWR | os.O_CREAT)
    assert target.read_bytes() == SECRET


def test_paths_are_checked_to_stay_under_their_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "out").symlink_to(tmp_path)
    assert safe_io.check_inside(root, root / "a" / "b") == root / "a" / "b"
    for escaping in (root / ".." / "x", root / "out" / "x", Path("/etc/passwd")):
        with pytest.raises(safe_io.UnsafePath, match="outside"):
            safe_io.check_inside(root, escaping)
    for bad in ("", ".", "..", "../x", "a/b", "/abs", "-flag", "x\n"):
        with pytest.raises(safe_io.UnsafePath, match="single path component"):
            safe_io.check_component(bad, "suite name")
    assert safe_io.check_component("paper_table1.v2+aug-1", "suite name") == "paper_table1.v2+aug-1"
