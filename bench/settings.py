"""Machine-level settings from `bench.toml`: where data and results live, how jobs run.

A suite says *what* to run; settings say *where and how* on this machine, so the same suite
runs unchanged on a laptop, a GPU box or a cluster. Precedence, later wins: built-in defaults <
bench.toml < environment (BENCH_DATA_ROOT) < command-line flags. Relative paths are taken
relative to the directory holding bench.toml.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, from PyPI (a dependency on 3.10 only)
    import tomli as tomllib

from bench import schema
from bench.errors import BenchError, ConfigError

CONFIG_NAME = "bench.toml"


@dataclass(frozen=True)
class DataSettings:
    root: str = "data"  # folder holding the dataset releases (cifar-100-python/, ...)
    workers: int = -1  # DataLoader workers per loader for streamed datasets; -1: the cores, at most 8
    cache: bool = True  # keep decoded Tiny-ImageNet arrays under <paths.cache>/decoded

    def __post_init__(self) -> None:
        if self.workers < -1:
            raise ValueError(f"workers must be >= 0, or -1 for automatic, got {self.workers}")


@dataclass(frozen=True)
class PathSettings:
    runs: str = "results/runs"  # one folder per job
    reports: str = "reports"  # generated leaderboards
    published: str = "results/published"  # published numbers with provenance (CSV)
    cache: str = "results/cache"  # derived data that can be rebuilt (decoded datasets, generated corruptions)
    weights: str = "weights"  # ImageNet weights for `recipe.pretrained`, one `<backbone>.pth` each


@dataclass(frozen=True)
class RunSettings:
    executor: Literal["inline", "local", "slurm"] = "local"
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: CUDA when available
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 autocast on CUDA, fp32 on CPU
    channels_last: Literal["auto", "on", "off"] = "auto"  # auto: on for CUDA
    compile: bool = False  # torch.compile the model; falls back to eager with a warning if it fails
    cpu_workers: int = 2  # local executor slots when no GPU is visible
    jobs_per_gpu: int = 1  # local executor slots per visible GPU
    threads_per_job: int = 0  # torch CPU threads in each job; 0: cores / slots

    def __post_init__(self) -> None:
        if self.cpu_workers < 1:
            raise ValueError(f"cpu_workers must be >= 1, got {self.cpu_workers}")
        if self.jobs_per_gpu < 1:
            raise ValueError(f"jobs_per_gpu must be >= 1, got {self.jobs_per_gpu}")
        if self.threads_per_job < 0:
            raise ValueError(f"threads_per_job must be >= 0, got {self.threads_per_job}")


# sbatch options bench sets itself from the keys above (or must own, like the array and log paths).
SBATCH_MANAGED = {
    "partition": "partition",
    "account": "account",
    "qos": "qos",
    "time": "time_minutes",
    "mem": "mem_gb_per_gpu",
    "cpus-per-task": "cpus_per_gpu",
    "gpus-per-node": "gpus_per_node (the job's resources.gpus is what it gets)",
    "array": None,
    "job-name": None,
    "output": None,
    "error": None,
    "signal": "signal_delay_s",
    "nodes": None,
    "ntasks-per-node": None,
    "open-mode": None,
}


@dataclass(frozen=True)
class SlurmSettings:
    """`[slurm]`: how `executor = "slurm"` asks for resources; one array task per job."""

    partition: str = ""  # "": the cluster's default partition
    account: str = ""
    qos: str = ""
    gpus_per_node: int = 8  # GPUs on one node: a job asking for more is rejected before submitting
    cpus_per_gpu: int = 8  # a task gets this x the job's GPUs (x its processes on a CPU-only run)
    mem_gb_per_gpu: float = 32.0  # likewise for memory
    time_minutes: int = 24 * 60  # per run of a task; a task that times out is requeued and resumes
    max_requeues: int = 3  # time-outs a task may be requeued after (preemptions do not count)
    array_parallelism: int = 256  # tasks of one array running at once
    signal_delay_s: int = 120  # the requeue signal comes this long before the time limit
    folder: str = "results/slurm"  # submitit's own files (pickles, raw stdout/stderr), one folder per task
    setup: list[str] = field(default_factory=list)  # shell lines run first in each task (module load ...)
    extra: dict[str, str | int | bool] = field(default_factory=dict)  # any other sbatch option
    wait: bool = False  # `bench run` waits for the array to finish (also `bench run --wait`)
    poll_seconds: float = 30.0  # how often a waiting `bench run` looks at the run folders

    def __post_init__(self) -> None:
        for name in ("gpus_per_node", "cpus_per_gpu", "time_minutes", "array_parallelism"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("max_requeues", "signal_delay_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.mem_gb_per_gpu <= 0 or self.poll_seconds <= 0:
            raise ValueError("mem_gb_per_gpu and poll_seconds must be > 0")
        for key in self.extra:
            option = key.replace("_", "-")
            if key.startswith("-"):
                raise ValueError(
                    f"extra: write sbatch options without dashes ({key.lstrip('-')!r}, not {key!r})"
                )
            if option in SBATCH_MANAGED:
                owner = SBATCH_MANAGED[option]
                hint = f"use the [slurm] key {owner}" if owner else "bench sets it itself"
                raise ValueError(f"extra: {key!r} cannot be set here: {hint}")


@dataclass(frozen=True)
class Settings:
    data: DataSettings = field(default_factory=DataSettings)
    paths: PathSettings = field(default_factory=PathSettings)
    run: RunSettings = field(default_factory=RunSettings)
    slurm: SlurmSettings = field(default_factory=SlurmSettings)
    base_dir: str = "."  # set from the location of bench.toml, not from the file itself

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else Path(self.base_dir) / p

    @property
    def data_root(self) -> Path:
        return self.resolve(self.data.root)

    @property
    def runs_root(self) -> Path:
        return self.resolve(self.paths.runs)

    @property
    def slurm_folder(self) -> Path:
        return self.resolve(self.slurm.folder)

    @property
    def reports_dir(self) -> Path:
        return self.resolve(self.paths.reports)

    @property
    def published_dir(self) -> Path:
        return self.resolve(self.paths.published)

    @property
    def cache_dir(self) -> Path:
        """Rebuildable derived data: decoded datasets, generated corruption sets."""
        return self.resolve(self.paths.cache)

    @property
    def weights_dir(self) -> Path:
        """Pretrained ImageNet state dicts, `<backbone>.pth` (bench/models/pretrained.py)."""
        return self.resolve(self.paths.weights)

    @property
    def decoded_cache_dir(self) -> Path | None:
        return self.cache_dir / "decoded" if self.data.cache else None

    def with_overrides(self, *, data_root: str | None = None, **run: Any) -> Settings:
        """Apply command-line overrides; `run` keys are RunSettings fields, None means unset."""
        out = self
        if data_root:
            out = replace(out, data=replace(out.data, root=str(Path(data_root).resolve())))
        changes = {k: v for k, v in run.items() if v is not None}
        if changes:
            try:
                out = replace(
                    out, run=schema.build(RunSettings, {**schema.to_plain(out.run), **changes}, "run")
                )
            except ConfigError as exc:
                raise BenchError(f"command line: {exc}") from None
        return out


def find_config(start: Path | None = None) -> Path | None:
    """bench.toml in `start` (default: the working directory) or its parents."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def load(path: str | Path | None = None) -> Settings:
    """Settings from `path` (or the nearest bench.toml), then BENCH_DATA_ROOT."""
    config = Path(path) if path else find_config()
    settings = Settings()
    if config is not None:
        try:
            raw = tomllib.loads(config.read_bytes().decode("utf-8"))
        except FileNotFoundError:
            raise BenchError(f"{config}: no such settings file") from None
        except IsADirectoryError:
            raise BenchError(f"{config}: is a folder, not a settings file (give bench.toml)") from None
        except OSError as exc:
            raise BenchError(f"{config}: cannot be read ({exc.strerror})") from None
        except UnicodeDecodeError as exc:
            raise BenchError(f"{config}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
        except tomllib.TOMLDecodeError as exc:
            raise BenchError(f"{config}: invalid TOML: {exc}") from None
        try:
            settings = schema.build(Settings, {**raw, "base_dir": str(config.parent.resolve())})
        except ConfigError as exc:
            raise exc.located(str(config)) from None
    env_root = os.environ.get("BENCH_DATA_ROOT")
    if env_root:
        settings = replace(settings, data=replace(settings.data, root=str(Path(env_root).resolve())))
    return settings
