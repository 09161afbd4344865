"""What every evaluator works on: a finished run's networks in pixel space and its test split.

The run's final networks are rebuilt from `spec.json` and `last.pt` (`bench.models.restore`);
every network the method reports (`Method.eval_models`: the online network, and the EMA teacher
where there is one) is wrapped so that it takes [0, 1] images and normalises them inside
(`attacks.PixelSpace`), and is evaluated on the run's own test split (the same images, and the
same subset for reduced-scale runs, as its training-time evaluation).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from bench import runtime
from bench.data.base import DataError, FileIndex, ImageSet
from bench.data.decoded import cached
from bench.evaluate.attacks import PixelSpace
from bench.models.restore import Restored, restore
from bench.progress import progress
from bench.settings import Settings

Predictions = dict[str, tuple[torch.Tensor, torch.Tensor]]  # network -> (top-label confidence, correct)


@dataclass
class EvaluationContext:
    run: Restored
    networks: dict[str, nn.Module]  # name -> PixelSpace-wrapped network, eval mode, on `device`
    test: ImageSet
    rt: runtime.Runtime
    settings: Settings
    _predictions: dict[int, Predictions] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return self.rt.device

    @property
    def run_dir(self) -> Path:
        return self.run.run_dir

    @property
    def label(self) -> str:
        return self.run.job.label

    def progress(self, what: str, total: int | None) -> contextlib.AbstractContextManager:
        """A progress bar with an ETA, labelled with the run and the evaluator."""
        return progress(f"{self.label} {what}", total=total)

    def batches(self, batch_size: int, images: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """([0, 1] float images, labels) on the device; `images` > 0: only the first that many."""
        n = min(images, len(self.test)) if images else len(self.test)
        for i in range(0, n, batch_size):
            stop = min(i + batch_size, n)
            x = self.test.images[i:stop].to(self.device, non_blocking=True).float().div_(255)
            yield x, self.test.labels[i:stop].to(self.device)

    @torch.no_grad()
    def predictions(self, batch_size: int) -> Predictions:
        """network -> (top-label confidences, correctness) over the test split; computed once per
        batch size and shared by the evaluators that need clean predictions (clean top-1, ECE)."""
        if batch_size not in self._predictions:
            conf: dict[str, list] = {n: [] for n in self.networks}
            hit: dict[str, list] = {n: [] for n in self.networks}
            with self.progress("clean predictions", -(-len(self.test) // batch_size)) as bar:
                for x, y in self.batches(batch_size):
                    for name, net in self.networks.items():
                        c, pred = net(x).softmax(dim=1).max(dim=1)
                        conf[name].append(c.cpu())
                        hit[name].append((pred == y).cpu())
                    bar.advance()
            self._predictions[batch_size] = {
                n: (torch.cat(conf[n]), torch.cat(hit[n])) for n in self.networks
            }
        return self._predictions[batch_size]


def test_split(run: Restored, settings: Settings) -> ImageSet:
    """The run's test split in memory, as its training-time evaluation saw it."""
    job, ds = run.job, run.dataset
    data = ds.load(settings.data_root, "test", job.recipe.image_size)
    if isinstance(data, FileIndex):
        if ds.loading != "memory":
            raise DataError(
                f"robustness evaluation reads the test split in memory; {job.dataset} is streamed from "
                "image files (its test images are resized and cropped per batch), which it does not support yet"
            )
        data = cached(data, settings.decoded_cache_dir, ds.name, "test")
    return data.subset(job.recipe.test_fraction)


def open_run(run_dir: Path, settings: Settings) -> EvaluationContext:
    """The finished run's networks and test split; RestoreError or DataError if it cannot be evaluated."""
    rt = runtime.resolve(settings.run)
    run = restore(Path(run_dir), rt.device)
    ds = run.dataset
    networks = {
        name: PixelSpace(net, ds.mean, ds.std, autocast=rt.autocast, channels_last=rt.channels_last)
        .to(rt.device, memory_format=rt.memory_format)
        .eval()
        for name, net in run.networks().items()
    }
    return EvaluationContext(run, networks, test_split(run, settings), rt, settings)
