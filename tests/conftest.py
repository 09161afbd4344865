"""Shared fixtures: an isolated project folder (bench.toml, suites, runs) per test."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bench import settings as settings_mod

# A suite small enough to train in about a second per job on one CPU core.
TINY_SUITE = """
name: tiny
axes:
  methods: [vanilla, mixup, cutmix]
  backbones: [tiny_resnet]
  datasets: [synthetic]
  seeds: [0]
recipe:
  epochs: 2
  batch_size: 32
  train_fraction: 0.125
  test_fraction: 0.25
  image_size: 16
report:
  reducer: final
"""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cuda: needs a CUDA device; skipped without one (scripts/gpu-check runs them: -m cuda)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (none here; scripts/gpu-check runs these on one)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with its own bench.toml, like a fresh checkout's root."""
    (tmp_path / "bench.toml").write_text(
        textwrap.dedent(
            """
            [data]
            root = "data"
            [run]
            executor = "inline"
            cpu_workers = 2
            threads_per_job = 1
            """
        )
    )
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "tiny.yaml").write_text(TINY_SUITE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BENCH_DATA_ROOT", raising=False)
    return tmp_path


@pytest.fixture
def settings(project: Path) -> settings_mod.Settings:
    return settings_mod.load(project / "bench.toml")


def write_suite(project: Path, text: str, name: str = "suite.yaml") -> Path:
    path = project / "suites" / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture(scope="session")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding a tiny copy of every release in its real format (read-only by convention:
    tests that damage a release copy it first, see `copy_release`)."""
    from tests.fixtures.releases import write_all

    return write_all(tmp_path_factory.mktemp("releases"))


def copy_release(releases: Path, folder: str, dest: Path) -> Path:
    """A private copy of one release folder, for a test to damage."""
    import shutil

    shutil.copytree(releases / folder, dest / folder)
    return dest / folder
