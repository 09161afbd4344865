"""A full disk is the job's error, "no space left on <path>", and `bench run` survives it with the
other jobs' results intact: simulated (the checkpoint's temporary file is /dev/full, so torch.save
fails as it does on a full disk) and, where the test may mount one, on a real full tmpfs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bench import records, safe_io, suite
from bench.cli import main
from tests.conftest import TINY_SUITE, write_suite

ROOT = Path(__file__).parent.parent.parent


def test_a_full_disk_while_checkpointing_is_the_jobs_error(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    path = write_suite(project, TINY_SUITE.replace("epochs: 2", "epochs: 1"), "tiny.yaml")
    jobs = {j.method: j for j in suite.expand(suite.load(path))}
    victim = jobs["mixup"].run_dir(project / "results" / "runs")
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args, **kwargs):  # the checkpoint of mixup lands on a full disk
        fd, name = real_mkstemp(*args, **kwargs)
        if Path(name).parent == victim and Path(name).name.startswith(f".{records.CHECKPOINT}."):
            os.close(fd)
            fd = os.open("/dev/full", os.O_WRONLY)
        return fd, name

    monkeypatch.setattr(safe_io.tempfile, "mkstemp", mkstemp)
    assert main(["run", "suites/tiny.yaml"]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err and "unexpected pos" not in captured.err
    failed = records.read_result(victim)
    assert failed.status == "error" and failed.error.startswith(
        f"no space left on {victim / records.CHECKPOINT}"
    )
    assert f"no space left on {victim / records.CHECKPOINT}" in " ".join(captured.err.split())
    assert not list(victim.glob(".*.tmp"))  # no temporary file left behind
    for method in ("vanilla", "cutmix"):  # the other jobs finished, and the leaderboard was written
        assert records.read_run(jobs[method].run_dir(project / "results" / "runs"), jobs[method]).done
    assert "| MixUp | failed" in (project / "reports" / "tiny.md").read_text()


def _can_mount_tmpfs() -> bool:
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        [
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            "mount -t tmpfs -o size=64k tmpfs /mnt",
        ],
        capture_output=True,
    )
    return probe.returncode == 0


SCRIPT = """
set -u
mount -t tmpfs -o size=1m tmpfs results/runs
head -c {fill} /dev/zero > results/runs/filler 2>/dev/null
{python} -m bench run suites/one.yaml --executor local --workers 1
echo "exit=$?"
"""


@pytest.mark.parametrize(("fill", "where"), [(1024 * 1024 - 48 * 1024, "last.pt"), (1024 * 1024, "")])
def test_a_real_full_filesystem(project: Path, fill: int, where: str) -> None:
    """The runs folder is a 1 MiB tmpfs: nearly full (spec, log and metrics fit, the checkpoint
    does not: the worker reports it), then completely full (not even spec.json fits)."""
    if not _can_mount_tmpfs():
        pytest.skip(
            "cannot mount a tmpfs here (no unprivileged user namespaces); the simulated test covers it"
        )
    write_suite(
        project,
        TINY_SUITE.replace("epochs: 2", "epochs: 1").replace("[vanilla, mixup, cutmix]", "[vanilla]"),
        "one.yaml",
    )
    (project / "results" / "runs").mkdir(parents=True)
    script = SCRIPT.format(fill=fill, python=sys.executable)
    done = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = " ".join((done.stdout + done.stderr).split())
    assert "exit=1" in output, output  # the job failed; `bench run` did not crash
    assert "Traceback" not in output and "unexpected pos" not in output
    assert "no space left on" in output and f"{where}" in output.split("no space left on", 1)[1][:400]
    assert "leaderboard:" in output  # written on the full runs folder's neighbour
