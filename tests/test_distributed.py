"""Multi-GPU jobs, run on the CPU with the gloo backend and two processes.

The unit test checks the pieces inside one DDP step: disjoint shards of the same augmented global
batch, identical models afterwards, and the same update as one process on the whole batch. The
end-to-end tests run a two-process job through `bench run` and check its record, then kill one
rank, then the worker, and check that every rerun resumes to exactly an uninterrupted run's numbers.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from bench import distributed, locks, records, runtime, suite
from bench.data import transforms
from bench.data.base import ImageSet
from bench.data.loader import InMemoryLoader
from bench.executors.launch import free_port
from bench.methods.base import MethodContext, NoParams
from bench.methods.vanilla import Vanilla
from bench.settings import RunSettings
from tests.conftest import TINY_SUITE, write_suite

ROOT = Path(__file__).parent.parent
N, BATCH, SIZE = 64, 32, 8


def _setup(seed: int = 0) -> tuple[InMemoryLoader, nn.Module, Vanilla, runtime.Runtime]:
    """A loader of N images labelled by their index, a BatchNorm-free model and the Vanilla method."""
    rt = runtime.resolve(RunSettings(device="cpu"))
    images = torch.randint(
        0, 256, (N, 3, SIZE, SIZE), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)
    )
    loader = InMemoryLoader(
        ImageSet(images, torch.arange(N)),
        batch_size=BATCH,
        mean=(0.5, 0.5, 0.5),
        std=(0.25, 0.25, 0.25),
        device=rt.device,
        train=True,
        transform=transforms.build("crop_flip", SIZE, interpolation="bilinear", eval_crop=None),
        generator=torch.Generator().manual_seed(seed),
    )
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * SIZE * SIZE, N))
    ctx = MethodContext(
        num_classes=N,
        image_size=SIZE,
        label_smoothing=0.0,
        generator=torch.Generator().manual_seed(seed),
        device=rt.device,
        steps_per_epoch=2,
        total_steps=2,
    )
    return loader, model, Vanilla(NoParams(), ctx), rt


def _one_step(step: nn.Module, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> None:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    loss, _ = step(images, labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def _rank(rank: int, world_size: int, port: int, out: str) -> None:
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world_size),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    loader, model, method, rt = _setup()
    group = distributed.init_from_env(rt)
    step = distributed.wrap(model, method, group, rt)
    images, labels = next(iter(distributed.shard(loader, group)))
    _one_step(step, model, images, labels)
    group.check_in_sync(step, when="after one step")  # must pass: DDP averaged the gradients
    params = torch.cat([p.detach().flatten() for p in model.parameters()])
    with torch.no_grad():  # now let rank 1 drift: the check must catch it on every rank
        if rank == 1:
            next(model.parameters()).add_(1e-3)
    try:
        group.check_in_sync(step, when="after a drift")
        caught = ""
    except RuntimeError as exc:
        caught = str(exc)
    torch.save(
        {"images": images, "labels": labels, "params": params, "caught": caught}, f"{out}/rank{rank}.pt"
    )
    # Free the DDP wrapper (its reducer holds the process group) before the group goes, as
    # run_job's return does for a real rank; destroyed after it, at exit, it can abort the process.
    del step
    gc.collect()
    dist.barrier()
    dist.destroy_process_group()


def test_ranks_train_on_disjoint_shards_of_the_same_batch_and_stay_identical(tmp_path: Path) -> None:
    mp.spawn(_rank, args=(2, free_port(), str(tmp_path)), nprocs=2)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    loader, model, method, rt = _setup()
    images, labels = next(iter(loader))  # the global batch a one-process run trains on
    seen = [r["labels"].tolist() for r in ranks]
    assert len(seen[0]) == len(seen[1]) == BATCH // 2
    assert not set(seen[0]) & set(seen[1])  # different data on each rank
    assert seen[0] + seen[1] == labels.tolist()  # together, exactly the one-process batch
    assert torch.equal(torch.cat([r["images"] for r in ranks]), images)  # augmented identically
    assert torch.equal(ranks[0]["params"], ranks[1]["params"])  # the same model after a step
    _one_step(distributed.wrap(model, method, distributed.SINGLE, rt), model, images, labels)
    single = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert torch.allclose(ranks[0]["params"], single, atol=1e-6)  # and the one-process update
    for r in ranks:
        assert "ranks disagree after a drift" in r["caught"]


# --- end to end, through `bench run` ------------------------------------------------------------

TWO_GPU_SUITE = TINY_SUITE.replace("[vanilla, mixup, cutmix]", "[mixup]").replace(
    "epochs: 2", "epochs: 4"
) + ("resources: {gpus: 2}\n")


def _rank_pids(run_dir: Path) -> list[int]:
    """Live `bench _rank RUN_DIR` processes (Linux /proc)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            state = next(
                line for line in (proc / "status").read_text().splitlines() if line.startswith("State:")
            )
        except (OSError, StopIteration):
            continue
        if b"_rank" in cmdline and str(run_dir).encode() in cmdline and "zombie" not in state:
            pids.append(int(proc.name))
    return pids


def _run(project: Path, path: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bench", "run", str(path), "--executor", "local", "--workers", "2", *extra],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _curve(run_dir: Path) -> list[dict]:
    return [
        {k: v for k, v in r.to_dict().items() if "seconds" not in k} for r in records.read_metrics(run_dir)[0]
    ]


def _kill_after_a_checkpoint(project: Path, path: Path, run_dir: Path, victim: str) -> str:
    """Start `bench run`, wait for a new checkpoint, kill the worker or a rank; returns the output."""
    before = (
        (run_dir / records.CHECKPOINT).stat().st_mtime_ns if (run_dir / records.CHECKPOINT).exists() else 0
    )
    proc = _run(project, path)
    try:
        deadline = time.time() + 300
        while not (
            (run_dir / records.CHECKPOINT).exists()
            and (run_dir / records.CHECKPOINT).stat().st_mtime_ns > before
        ):
            assert time.time() < deadline and proc.poll() is None, "no new checkpoint"
            time.sleep(0.02)
        ranks = _rank_pids(run_dir)
        assert len(ranks) == 2
        if victim == "worker":
            os.kill(locks.probe(run_dir).pid, signal.SIGKILL)
        else:
            os.kill(max(ranks), signal.SIGKILL)  # the rank started last: rank 1
        output, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    deadline = time.time() + 30
    while _rank_pids(run_dir):  # no rank outlives its job's worker
        assert time.time() < deadline, "rank processes outlived their worker"
        time.sleep(0.1)
    return output


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds rank processes through /proc")
def test_a_two_process_job_writes_one_complete_record_and_survives_kills(project: Path) -> None:
    reference = write_suite(project, TWO_GPU_SUITE, "two.yaml")
    (job,) = suite.expand(suite.load(reference))
    assert job.gpus == 2
    run_dir = job.run_dir(project / "results" / "runs")
    done = _run(project, reference)
    output, _ = done.communicate(timeout=600)
    assert done.returncode == 0, output
    record = records.read_result(run_dir)
    assert record.status == "ok" and record.epochs_completed == 4
    assert [r.epoch for r in records.read_metrics(run_dir)[0]] == [1, 2, 3, 4]
    assert "rank 0 of 2 (gloo)" in (run_dir / records.LOG).read_text()
    assert "rank 1 of 2 (gloo)" in (run_dir / distributed.RANK_LOG.format(rank=1)).read_text()
    written = {p.name for p in run_dir.iterdir()}
    assert written == {
        "spec.json",
        "metrics.jsonl",
        "result.json",
        "last.pt",
        "log.txt",
        "log.rank1.txt",
        "lock",
        "worker.log",
    }
    expected = _curve(run_dir)

    # The same job in a second folder: kill rank 1, then the worker, then let it finish.
    runs = project / "killed"
    (project / "bench.toml").write_text((project / "bench.toml").read_text() + '\n[paths]\nruns = "killed"\n')
    run_dir = job.run_dir(runs)
    output = _kill_after_a_checkpoint(project, reference, run_dir, victim="rank")
    record = records.read_result(run_dir)
    assert record.status == "error" and "rank 1 of 2 was killed by SIGKILL after epoch" in record.error, (
        output
    )
    output = _kill_after_a_checkpoint(project, reference, run_dir, victim="worker")
    assert "its worker was killed by SIGKILL" in records.read_result(run_dir).error, output
    resumed_after = len(records.read_metrics(run_dir)[0])
    assert resumed_after >= 2
    last = _run(project, reference)
    output, _ = last.communicate(timeout=600)
    assert last.returncode == 0, output
    assert f"resuming after epoch {resumed_after}" in (run_dir / records.LOG).read_text()
    assert _curve(run_dir) == expected  # the same numbers as the uninterrupted two-process run
