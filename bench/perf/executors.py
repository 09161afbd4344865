"""How much the local executor adds to a suite's running time: `python -m bench.perf.executors`.

Three measurements, each printed with the machine and /proc/loadavg (take figures on a quiet
machine; other processes on the cores change every number):

1. Worker start-up: what a job costs in a worker process beyond its own training, i.e. the
   process's lifetime minus the `wall_seconds` the job records (Python start, imports of bench,
   torch and timm, reading settings and spec, the lock). Median over repeats, warm page cache.
2. Makespan: N jobs of equal length on W workers. The jobs use a `sleep` method registered only
   here (each step sleeps, so job length does not depend on how busy the cores are); the worker
   processes learn about it from a sitecustomize module on their PYTHONPATH. L1 is the median
   length of one job run alone (start-up included, as the scheduler sees it); the makespan is
   compared with N/W x L1, and the scheduler's idle share is 1 - (sum of job lengths) / (W x makespan).
3. Skip check: `bench run` on a suite of 1,000 finished jobs (records written by this script,
   no training), end to end as a subprocess, then its parts in this process.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench import records
from bench.methods.vanilla import Vanilla
from bench.perf import timing

SLEEP_METHOD = "bench.perf.executors:SleepMethod"


@dataclass(frozen=True)
class SleepParams:
    seconds_per_step: float = 0.1


class SleepMethod(Vanilla):
    """Vanilla training that also sleeps a fixed time per step: a job whose length we control."""

    name = "sleep"
    paper = "none (benchmark only)"
    Params = SleepParams

    def loss(self, model, images, labels):  # type: ignore[override]
        time.sleep(self.p.seconds_per_step)
        return super().loss(model, images, labels)


SITECUSTOMIZE = f"""
from bench import registry
registry.METHODS["sleep"] = registry.Entry("sleep", "{SLEEP_METHOD}", "sleeps per step (benchmark only)")
"""


def loadavg() -> str:
    return f"loadavg {timing.loadavg()}"


def hardware() -> str:
    hw = timing.hardware(torch.device("cpu"))
    return f"{hw['cpu']}, {hw['logical_cores']} logical cores, torch {hw['torch']}"


@contextlib.contextmanager
def sleep_method_everywhere():
    """Register `sleep` here and, through sitecustomize on PYTHONPATH, in every worker process."""
    from bench import registry

    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "sitecustomize.py").write_text(SITECUSTOMIZE)
        old = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (folder, old) if p)
        registry.METHODS["sleep"] = registry.Entry("sleep", SLEEP_METHOD, "benchmark only")
        try:
            yield
        finally:
            del registry.METHODS["sleep"]
            if old is None:
                os.environ.pop("PYTHONPATH")
            else:
                os.environ["PYTHONPATH"] = old


def _project(root: Path, suite_text: str, workers: int) -> Path:
    root.mkdir(parents=True)
    (root / "bench.toml").write_text(
        f'[run]\nexecutor = "local"\ndevice = "cpu"\ncpu_workers = {workers}\nthreads_per_job = 1\n'
    )
    (root / "suite.yaml").write_text(textwrap.dedent(suite_text))
    return root


def _sleep_suite(jobs: int, steps: int, seconds_per_step: float) -> str:
    return f"""
    name: perf
    axes: {{methods: [sleep], backbones: [tiny_resnet], datasets: [synthetic], seeds: {list(range(jobs))}}}
    recipe: {{epochs: 1, batch_size: 16, image_size: 16, train_fraction: {steps * 16 / 2048}, test_fraction: 0.02}}
    method_params: {{sleep: {{seconds_per_step: {seconds_per_step}}}}}
    report: {{reducer: final}}
    """


class Clock:
    """Events that time every job from its worker's start to the moment its exit is noticed."""

    def __init__(self) -> None:
        self.start: dict[str, float] = {}
        self.lengths: dict[str, float] = {}
        self.recorded: dict[str, float] = {}

    def started(self, job: Any) -> None:
        self.start[job.id] = time.perf_counter()

    def epoch(self, job: Any, epoch: int) -> None:
        pass

    def finished(self, job: Any, record: dict[str, Any]) -> None:
        assert record["status"] == "ok", record.get("error")
        self.lengths[job.id] = time.perf_counter() - self.start[job.id]
        self.recorded[job.id] = record["wall_seconds"]

    def skipped(self, job: Any, reason: str) -> None:
        raise AssertionError(f"{job.id} skipped: {reason}")

    def info(self, message: str) -> None:
        pass


def run_local(
    root: Path, jobs: int, workers: int, steps: int, seconds_per_step: float
) -> tuple[float, Clock]:
    from bench import settings as settings_mod
    from bench import suite
    from bench.executors import local

    project = _project(root, _sleep_suite(jobs, steps, seconds_per_step), workers)
    settings = settings_mod.load(project / "bench.toml")
    expanded = suite.expand(suite.load(project / "suite.yaml"))
    clock = Clock()
    tic = time.perf_counter()
    local.run(expanded, settings, clock)
    return time.perf_counter() - tic, clock


def measure_scheduler(
    scratch: Path, workers: list[int], jobs_per_worker: int, steps: int, seconds: float
) -> None:
    print(f"\n## Makespan: {steps} steps x {seconds} s of sleep per job, {jobs_per_worker} jobs per worker")
    with sleep_method_everywhere():
        run_local(scratch / "warm-up", 1, 1, steps, seconds)  # page cache, .pyc files
        _, alone = run_local(scratch / "alone", 3, 1, steps, seconds)
        l1 = statistics.median(alone.lengths.values())
        startup = statistics.median(alone.lengths[k] - alone.recorded[k] for k in alone.lengths)
        print(
            f"one job alone: L1 = {l1:.2f} s (median of 3), of which worker start-up {startup:.2f} s; {loadavg()}"
        )
        print(
            "| W | N | makespan (s) | mean job length L (s) | makespan / (N/W x L) | scheduler idle "
            "| N/W x L1 (s) | makespan / (N/W x L1) | load |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for w in workers:
            n = w * jobs_per_worker
            makespan, clock = run_local(scratch / f"w{w}", n, w, steps, seconds)
            mean = statistics.fmean(clock.lengths.values())  # as long as jobs took side by side
            idle = 1 - sum(clock.lengths.values()) / (w * makespan)
            print(
                f"| {w} | {n} | {makespan:.2f} | {mean:.2f} | {makespan / (n / w * mean):.3f} | {idle:.1%} "
                f"| {n / w * l1:.2f} | {makespan / (n / w * l1):.3f} | {loadavg()} |"
            )
        print(
            "makespan / (N/W x L) and the idle share measure the scheduler; against L1 (one job alone) the "
            "ratio also holds what concurrent jobs cost each other on these cores (start-up imports are CPU-bound)."
        )


def measure_startup(scratch: Path, repeats: int) -> None:
    print("\n## Worker start-up (tiny real job, 1 epoch)")
    overheads = []
    with sleep_method_everywhere():
        for i in range(repeats + 1):
            _, clock = run_local(scratch / f"startup{i}", 1, 1, steps=2, seconds_per_step=0.0)
            (job_id,) = clock.lengths
            if i:  # the first run warms the page cache
                overheads.append(clock.lengths[job_id] - clock.recorded[job_id])
    print(
        f"process lifetime minus the job's own wall time: median {statistics.median(overheads):.2f} s "
        f"(min {min(overheads):.2f}, max {max(overheads):.2f}, {repeats} runs); {loadavg()}"
    )


FINISHED_SUITE = """
name: finished
axes:
  methods: [vanilla, mixup, cutmix, {method: mixup, label: mixup_a2, params: {alpha: 2.0}}]
  backbones: [tiny_resnet]
  datasets: [synthetic]
  seeds: SEEDS
recipe: {epochs: 10, batch_size: 64}
method_params: {mixup: {alpha: 1.0}, cutmix: {alpha: 1.0}}
report: {reducer: median_last10}
"""


def fabricate_finished(project: Path, jobs: int) -> list:
    """A suite of `jobs` jobs whose run folders hold finished records (no training)."""
    from bench import suite

    text = FINISHED_SUITE.replace("SEEDS", str(list(range(jobs // 4))))
    _project(project, text, workers=2)
    expanded = suite.expand(suite.load(project / "suite.yaml"))
    runs = project / "results" / "runs"
    for job in expanded:
        run_dir = records.prepare(job, runs)
        rows = [
            records.MetricsRow(epoch=e, lr=0.1, train_loss=1.0, test_top1={"online": 50.0 + e})
            for e in range(1, 11)
        ]
        records.write_metrics(run_dir, rows)
        result = records.Result(
            id=job.id,
            suite=job.suite,
            label=job.method,
            status="ok",
            primary_network="online",
            epochs_completed=10,
            metrics={"online": {"final": 60.0}},
        )
        records.write_result(run_dir, result)
    return expanded


def measure_skip(scratch: Path, jobs: int, repeats: int) -> None:
    from bench import settings as settings_mod
    from bench import suite
    from bench.report.write import write_leaderboard
    from bench.runner import split_finished

    print(f"\n## `bench run` on a suite of {jobs} finished jobs")
    project = scratch / "finished"
    fabricate_finished(project, jobs)
    command = [sys.executable, "-m", "bench", "run", "suite.yaml"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent.parent)}
    walls = []
    for i in range(repeats + 1):
        tic = time.perf_counter()
        done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, check=True)
        if i:
            walls.append(time.perf_counter() - tic)
    assert f"{jobs} already finished, 0 run" in done.stdout, done.stdout
    print(
        f"end to end (subprocess, leaderboard included): median {statistics.median(walls):.2f} s over {repeats}; {loadavg()}"
    )
    imports = []
    for _ in range(repeats):
        tic = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import bench.cli, bench.runner, bench.suite"], env=env, check=True
        )
        imports.append(time.perf_counter() - tic)
    parts: dict[str, list[float]] = {"python start + imports": imports}
    settings = settings_mod.load(project / "bench.toml")

    def timed(name: str, step: Any) -> Any:
        tic = time.perf_counter()
        value = step()
        parts.setdefault(name, []).append(time.perf_counter() - tic)
        return value

    for _ in range(repeats):
        loaded = timed("suite.load (validates: one expand)", lambda: suite.load(project / "suite.yaml"))
        fresh = dataclasses.replace(loaded)  # a new Suite: expand() resolves once per Suite object
        expanded = timed("expand() (once per suite)", lambda: suite.expand(fresh))  # noqa: B023 (called at once)
        timed("split_finished (result reads)", lambda: split_finished(expanded, settings))  # noqa: B023
        timed("write_leaderboard (metrics reads)", lambda: write_leaderboard(loaded, settings))  # noqa: B023
    for name, times in parts.items():
        print(f"  {name}: median {statistics.median(times):.3f} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.perf.executors", description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=["startup", "makespan", "skip"], action="append")
    p.add_argument("--workers", type=int, nargs="+", default=[2, 4])
    p.add_argument("--jobs-per-worker", type=int, default=4)
    p.add_argument("--steps", type=int, default=20, help="training steps per job")
    p.add_argument("--seconds-per-step", type=float, default=0.25)
    p.add_argument("--finished", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    only = set(args.only or ["startup", "makespan", "skip"])
    print(f"# Executor overheads\n{hardware()}; {loadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench-perf-") as folder:
        scratch = Path(folder)
        if "startup" in only:
            measure_startup(scratch, args.repeats)
        if "makespan" in only:
            measure_scheduler(scratch, args.workers, args.jobs_per_worker, args.steps, args.seconds_per_step)
        if "skip" in only:
            measure_skip(scratch, args.finished, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
