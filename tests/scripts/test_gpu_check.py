"""scripts/gpu-check: its CPU form runs green here (so it cannot rot before a GPU runs it), and the
suites of its GPU form are valid suites."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
import sys
from pathlib import Path

from bench import suite

ROOT = Path(__file__).parent.parent.parent
SCRIPT = ROOT / "scripts" / "gpu-check"


def load_script():
    loader = importlib.machinery.SourceFileLoader("gpu_check", str(SCRIPT))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("gpu_check", loader))
    sys.modules["gpu_check"] = module  # dataclasses look their module up there
    loader.exec_module(module)
    return module


def test_the_cpu_form_runs_green_and_says_what_it_skipped(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--cpu", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (report,) = tmp_path.glob("gpu-check-cpu-*.md")
    text = report.read_text()
    assert "Result: no failures. No CUDA device: the CUDA-only checks are skipped, not verified." in text
    for check in ("CUDA-only tests", "bench perf --device cuda", "bench perf --device cuda --compile"):
        assert f"| {check} | skipped | 0.0 | no CUDA device" in text
    assert "| DDP: one job on 2 GPUs | skipped | 0.0 | needs two GPUs; 0 visible |" in text
    assert "| suite: synthetic CIFAR-shaped, local executor | ok |" in text and "2 jobs ok" in text
    rows = [
        line
        for line in text.splitlines()
        if line.startswith(("| vanilla | tiny_resnet | ok |", "| mixup | tiny_resnet | ok |"))
    ]
    assert len(rows) == 2 and all("cpu" in r for r in rows)


def test_the_gpu_forms_suites_are_valid(tmp_path: Path) -> None:
    """Written as on a 2-GPU machine and expanded: methods, parameters and recipe keys all check."""
    gpu_check = load_script()
    ctx = gpu_check.Context(tmp_path, tmp_path, quick=False, cuda=True, gpus=2, deadline=0.0)
    gpu_check.write_project(ctx)
    jobs = {p.stem: suite.load(p).jobs for p in sorted((tmp_path / "suites").glob("*.yaml"))}
    assert [j.method for j in jobs["gpu_check"]] == [
        "vanilla",
        "mixup",
        "cutmix",
        "puzzlemix",
        "automix",
        "adautomix",
    ]
    assert {(j.backbone, j.recipe.image_size, j.recipe.batch_size) for j in jobs["gpu_check"]} == {
        ("resnet18", 32, 100)
    }
    (vit,) = jobs["gpu_check_vit"]
    assert (vit.recipe.precision, vit.recipe.randaugment.magnitude, vit.backbone) == (
        "fp16",
        7.0,
        "convnext_tiny",
    )
    (ddp,) = jobs["gpu_check_ddp"]
    assert ddp.gpus == 2
    assert 'precision = "bf16"' in (tmp_path / "bench.toml").read_text()
