"""Where and how a job computes: device, precision, memory format, threads, versions.

The same code path serves CPU (tests, smoke runs) and CUDA (real runs); only these choices
differ, and they come from settings, never from hard-coded `.cuda()` calls.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

import bench
from bench.errors import BenchError
from bench.settings import RunSettings


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    bf16: bool  # autocast to bfloat16 in the forward pass
    channels_last: bool
    sync_every: int  # steps between host synchronisations (finite-loss check, logging)

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.bf16:
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def describe(self) -> str:
        name = (
            torch.cuda.get_device_name(self.device)
            if self.device.type == "cuda"
            else platform.processor() or "cpu"
        )
        return f"{self.device.type} ({name}), {'bf16 autocast' if self.bf16 else 'fp32'}"


def resolve(run: RunSettings) -> Runtime:
    """The runtime for these settings; asking for CUDA where there is none is a user error."""
    if run.device == "cuda" and not torch.cuda.is_available():
        raise BenchError(
            "settings ask for device 'cuda' but torch sees no CUDA device; use device = 'auto' or 'cpu'"
        )
    cuda = run.device == "cuda" or (run.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if cuda else "cpu")
    bf16 = run.precision == "bf16" or (run.precision == "auto" and cuda)
    channels_last = run.channels_last == "on" or (run.channels_last == "auto" and cuda)
    return Runtime(device=device, bf16=bf16, channels_last=channels_last, sync_every=25 if cuda else 1)


@functools.cache
def cpu_name() -> str:
    """The CPU model (from /proc/cpuinfo on Linux), for the hardware line of every timing."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.cache
def git_commit() -> str:
    """The harness's git commit (with '+dirty' for uncommitted changes), or 'unknown'."""
    root = Path(bench.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if commit.returncode != 0:
        return "unknown"
    return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def versions(rt: Runtime) -> dict[str, Any]:
    import timm

    return {
        "bench": bench.__version__,
        "git_commit": git_commit(),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "python": platform.python_version(),
        "device": rt.describe(),
        "torch_threads": torch.get_num_threads(),
    }


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one)."""
    affinity = getattr(os, "sched_getaffinity", None)  # Linux only
    return len(affinity(0)) if affinity else os.cpu_count() or 1
