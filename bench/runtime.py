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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

import bench
from bench.errors import BenchError
from bench.settings import RunSettings

if TYPE_CHECKING:
    from bench.records import Machine


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    bf16: bool  # autocast to bfloat16 in the forward pass
    channels_last: bool
    sync_every: int  # steps between host synchronisations (finite-loss check, logging)
    compile: bool = False  # torch.compile the model (see `compile_model`)

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
        compiled = ", torch.compile" if self.compile else ""
        return f"{self.device.type} ({name}), {'bf16 autocast' if self.bf16 else 'fp32'}{compiled}"


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
    return Runtime(
        device=device,
        bf16=bf16,
        channels_last=channels_last,
        sync_every=25 if cuda else 1,
        compile=run.compile,
    )


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """`tensor` (drawn on the host: indices, lambdas, masks) on `device`, without a host sync.

    A plain `.to("cuda")` of a CPU tensor waits for the GPU to finish its queued work; with
    `non_blocking=True` a copy from ordinary (pageable) host memory is staged at once and queued
    behind that work instead, so the source may be freed or reused as soon as this returns. Only
    pinned sources would need to stay untouched until the copy runs, and nothing here pins them.
    """
    return tensor.to(device, non_blocking=True)


# torch.compile's own failures (tracing, graph lowering, the C++/Triton compiler) come from these.
_COMPILER_MODULES = ("torch._dynamo", "torch._inductor", "torch._functorch")


def compile_model(model: nn.Module, warn: Callable[[str], None]) -> bool:
    """Compile `model`'s forward with torch.compile, in place; False if it runs eagerly instead.

    In place (as `nn.Module.compile`), so parameter names, attributes, hooks and checkpoints stay
    the eager model's and methods that call its submodules still can. torch compiles lazily, at
    the first call in each mode (training, evaluation, a new batch shape); the backward is
    compiled with its forward, so that a failure shows there. If torch.compile is unavailable, or
    any compilation fails, `warn` says why, the failed call is run eagerly and so is every later
    one: a job never fails because it asked for compilation.
    """
    try:
        compiled = torch.compile(model._call_impl)
    except Exception as exc:  # unsupported platform or Python version
        warn(f"torch.compile is unavailable ({_reason(exc)}); running eagerly")
        return False
    import torch._functorch.config as functorch_config

    if hasattr(
        functorch_config, "force_non_lazy_backward_lowering"
    ):  # process-wide; only compiled code reads it
        functorch_config.force_non_lazy_backward_lowering = True

    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return compiled(*args, **kwargs)
        except Exception as exc:
            if not type(exc).__module__.startswith(_COMPILER_MODULES):
                raise
            model._compiled_call_impl = None  # nn.Module's hook for compiled forwards
            warn(f"torch.compile failed ({_reason(exc)}); running eagerly")
            return model._call_impl(*args, **kwargs)

    model._compiled_call_impl = guarded
    return True


def _reason(exc: BaseException) -> str:
    """`Type: first line`, and the same of the root cause when torch wrapped one."""

    def line(e: BaseException) -> str:
        text = str(e).strip()
        return f"{type(e).__name__}: {text.splitlines()[0] if text else 'no message'}"

    root, seen = exc, {id(exc)}
    while True:  # dynamo keeps the backend's exception in `inner_exception`
        inner = getattr(root, "inner_exception", None) or root.__cause__ or root.__context__
        if not isinstance(inner, BaseException) or id(inner) in seen:
            break
        root = inner
        seen.add(id(root))
    return line(exc) if root is exc else f"{line(exc)} {line(root)}"


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


def machine(rt: Runtime, processes: int = 1) -> Machine:
    """What a job ran on, for result.json: CPU and GPU models, GPU count, torch and CUDA versions."""
    from bench.records import Machine

    on_gpu = rt.device.type == "cuda"
    return Machine(
        cpu=cpu_name(),
        gpu=torch.cuda.get_device_name(rt.device) if on_gpu else None,
        gpus=processes if on_gpu else 0,
        torch=torch.__version__,
        cuda=torch.version.cuda,
    )


def cpu_job_threads(run: RunSettings) -> int:
    """The torch threads each job gets on a machine without GPUs: `threads_per_job`, or the
    cores shared among the local executor's `cpu_workers` slots."""
    return run.threads_per_job or max(1, (os.cpu_count() or 1) // run.cpu_workers)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one)."""
    affinity = getattr(os, "sched_getaffinity", None)  # Linux only
    return len(affinity(0)) if affinity else os.cpu_count() or 1
