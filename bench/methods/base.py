"""The interface every mixup method implements.

Methods differ in how often they call the model: MixUp mixes inputs once, ManifoldMix mixes hidden
features, PuzzleMix needs input gradients, AutoMix/AdAutoMix own a generator and an EMA teacher,
adversarial mixup runs PGD. So the interface sits at the level of a batch's loss:

* `setup(model)`: called once with the classifier, before the optimizer is built (an EMA
  teacher copies it here);
* `loss(model, images, labels) -> (loss, logs)`: the training loop calls only this;
* `param_groups()`: extra trainable parts (a mix block) for the optimizer; the method is an
  `nn.Module`, so its submodules (EMA teacher, mix block) are checkpointed with it;
* `after_step(model)`: state updates such as the EMA teacher;
* `eval_models(model)`: the named networks whose accuracy is reported;
* `preview(model, images, labels)`: the mixed images a training step would see, with their
  sources and label weights, for `bench visualize` (no parameter changes);
* `unavoidable_passes(model, images, labels, autocast)`: for methods whose cost is judged against
  the network passes their step cannot avoid (AutoMix, AdAutoMix), each such pass as a callable
  that `bench perf` times on its own.

Everything the rest of the code asks about a method is a class attribute here, next to its code:
its `paper` (citation and arXiv id), its `kind` (how it mixes, which decides the invariants its
tests check and whether it needs the classifier to mix), whether its label weights are the mix's
shares (`share_labels`), its `cost_target` for `bench perf`, its reported `networks`. The
registry (bench/registry.py) gives its name, once.

State that must survive a resume (iteration counters, momentum schedules) lives in buffers or
submodules, so the checkpoint's `method` state dict restores it exactly.

Sample-level mixers (MixUp, CutMix, ...) only implement `sample` (draw lambda, partners, masks)
and inherit `InputMix`, which applies the sample and computes the loss. Mixers whose mask depends
on the model (PuzzleMix's input-gradient saliency) inherit `GuidedMix` and implement
`sample(model, images, labels)` instead.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from bench.methods import sampling
from bench.methods.targets import mix_targets, one_hot, soft_cross_entropy
from bench.runtime import to_device


@dataclass
class MethodContext:
    """What a method may know about the job it runs in."""

    num_classes: int
    image_size: int
    label_smoothing: float
    generator: torch.Generator  # CPU generator for every random draw the method makes
    device: torch.device
    steps_per_epoch: int
    total_steps: int
    backbone: str = ""
    # How the loader normalised the images: pixels in [0, 1] are `images * std + mean` (per channel).
    # Methods that look at pixel values (SaliencyMix's saliency, PuzzleMix's smoothness term) need it.
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def to_pixels(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised images back to pixel values in [0, 1] (before any clipping)."""
        mean = to_device(torch.tensor(self.mean, dtype=images.dtype), images.device).view(1, -1, 1, 1)
        std = to_device(torch.tensor(self.std, dtype=images.dtype), images.device).view(1, -1, 1, 1)
        return images * std + mean


@dataclass(frozen=True)
class NoParams:
    """For methods without hyperparameters."""


@dataclass(frozen=True)
class Paper:
    """Where a method comes from: `cite` (authors, title, venue and year) and its arXiv id ("" for
    papers without one)."""

    cite: str
    arxiv: str = ""

    def __str__(self) -> str:
        return f"{self.cite}, arXiv {self.arxiv}" if self.arxiv else self.cite


class Kind(enum.Enum):
    """How a method mixes. The invariant tests check each kind for what it promises, and the kinds
    that read the classifier to decide the mix are drawn with a (briefly trained) network by
    `bench visualize`."""

    NONE = "no mixing"
    INPUT = "input mix"  # lambda, boxes and masks drawn blind to the classifier (MixUp, CutMix, ...)
    GUIDED = "guided"  # the mask or the label weights come from the classifier (PuzzleMix, SnapMix)
    FEATURE = "feature mix"  # hidden features mixed inside the classifier (ManifoldMix)
    LEARNED = "learned"  # a generator trained with the classifier (AutoMix, AdAutoMix)
    ADVERSARIAL = "adversarial"  # the mix is optimised against the classifier (AOM)

    @property
    def uses_model(self) -> bool:
        """The mix depends on the classifier (its gradients, features or predictions)."""
        return self not in (Kind.NONE, Kind.INPUT)


class Method(nn.Module):
    """Base class: subclasses set the class attributes and implement `loss`."""

    paper: ClassVar[Paper]  # shown by `bench ls methods` and docs/methods.md
    kind: ClassVar[Kind]
    # True when each mixed sample's label weights are the shares of its sources in the mix (the
    # pixel share for input mixers), so they sum to 1; False when they are measured otherwise
    # (SnapMix: the share of each source's class activation map that survives the cut).
    share_labels: ClassVar[bool] = True
    # The per-step cost `bench perf` holds the method to: the most its training step may take, as a
    # ratio to vanilla's step, or, for a method with `unavoidable_passes`, to the sum of those passes.
    # None: no target (vanilla, the reference).
    cost_target: ClassVar[float | None] = None
    version: ClassVar[int] = 1  # bump when the method's semantics change: old results stop matching
    Params: ClassVar[type] = NoParams
    networks: ClassVar[tuple[str, ...]] = ("online",)  # names returned by eval_models
    primary_network: ClassVar[str] = "online"  # the network a leaderboard reports by default
    _fixed_partners: torch.Tensor | None = None  # set only inside `fixed_partners`

    def __init__(self, params: Any, ctx: MethodContext) -> None:
        super().__init__()
        self.p = params
        self.ctx = ctx

    @classmethod
    def check_compatible(cls, *, backbone: str, dataset: str, image_size: int, params: Any = None) -> None:
        """Raise ValueError if this method (with these params) cannot run with this backbone,
        dataset or image size. Called for every cell when a suite is validated, before any job
        starts."""

    @classmethod
    def missing_dependency(cls) -> str | None:
        """What optional dependency this method needs and this machine lacks, with how to install
        it; None when nothing is missing. Checked by whatever is about to train or run the method
        (`bench run` before any job starts, `bench perf`, `bench visualize`), not by validation:
        planning a suite or writing its leaderboard needs no training dependency."""
        return None

    def setup(self, model: nn.Module) -> None:
        """Called once with the classifier before training starts."""

    def loss(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        raise NotImplementedError

    def param_groups(self) -> list[dict[str, Any]]:
        """Optimizer parameter groups for the method's own trainable modules (none by default)."""
        return []

    def after_step(self, model: nn.Module) -> None:
        """Called after every optimizer step."""

    def eval_models(self, model: nn.Module) -> dict[str, nn.Module]:
        """The networks to evaluate, by name; must match `networks`."""
        return {"online": model}

    def preview(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> Preview:
        """What this method feeds the classifier for this batch; methods that mix override it."""
        index = torch.arange(images.shape[0], device=images.device)
        return Preview(images, index[:, None], torch.ones(images.shape[0], 1, device=images.device))

    def unavoidable_passes(
        self,
        model: nn.Module,
        images: torch.Tensor,
        labels: torch.Tensor,
        autocast: Callable[[], contextlib.AbstractContextManager],
    ) -> dict[str, Callable[[], None]]:
        """The network passes a training step of this method cannot avoid, by name, each a callable
        on realistic inputs that runs one of them under `autocast()` (none by default). When a
        method names them, `bench perf` times each on its own and holds the step to `cost_target`
        times their sum; everything else in the step is overhead."""
        return {}

    @classmethod
    def cost_basis(cls) -> str:
        """What `cost_target` is a ratio to: "passes" for a method that names its unavoidable
        passes, else "vanilla"."""
        return "passes" if cls.unavoidable_passes is not Method.unavoidable_passes else "vanilla"

    def targets(self, labels: torch.Tensor) -> torch.Tensor:
        return one_hot(labels, self.ctx.num_classes, self.ctx.label_smoothing)

    def permutation(self, images: torch.Tensor) -> torch.Tensor:
        """The partners of a batch: sample i is mixed with sample perm[i]."""
        if self._fixed_partners is not None:
            return self._fixed_partners.to(images.device)
        return sampling.permutation(images.shape[0], self.ctx.generator, images.device)

    @contextlib.contextmanager
    def fixed_partners(self, perm: torch.Tensor) -> Iterator[None]:
        """Within this block `permutation` returns `perm`: `bench visualize` mixes the same pairs
        with every method. Everything else (lambda, boxes, masks) is still drawn as in training."""
        self._fixed_partners = perm
        try:
            yield
        finally:
            self._fixed_partners = None


@dataclass
class Preview:
    """Mixed images (normalised like the input), and for each one the batch indices of the images
    it was mixed from (B, N) with their label weights (B, N), which sum to 1 per row for methods
    with `share_labels`. `note` says what the images show when they are not the network's input
    (ManifoldMix mixes features)."""

    images: torch.Tensor
    sources: torch.Tensor
    weights: torch.Tensor
    note: str = ""


@dataclass
class MixSample:
    """One batch's mixing decision, drawn before any pixel is touched.

    `mask` is the share of the original image at each pixel, shape (B or 1, 1, H or 1, W or 1),
    in [0, 1]; `lam` (B,) is the original image's share of the pixels, always the mask's mean; the
    partner of sample i is `perm[i]`, and `partner` (optional) replaces `images[perm]` for methods
    that transform the partner (ResizeMix pastes a shrunken copy). `source` (optional) likewise
    replaces `images` when the original's own pixels are moved (PuzzleMix's transport).
    `label_weights` (optional, (B, 2)): the weights of the original's and the partner's labels when
    they are not (lam, 1 - lam) (SnapMix measures them on class activation maps; they need not
    sum to 1).
    """

    perm: torch.Tensor
    mask: torch.Tensor
    lam: torch.Tensor
    partner: torch.Tensor | None = None
    source: torch.Tensor | None = None
    label_weights: torch.Tensor | None = None

    def weights(self) -> torch.Tensor:
        """(B, 2): the label weights of the original and of the partner."""
        if self.label_weights is not None:
            return self.label_weights
        return torch.stack([self.lam, 1 - self.lam], 1)

    def mix_targets(self, targets: torch.Tensor) -> torch.Tensor:
        """The soft targets of the mixed batch."""
        if self.label_weights is None:
            return mix_targets(targets, self.perm, self.lam)
        w = to_device(self.label_weights, targets.device).to(targets.dtype)
        return w[:, :1] * targets + w[:, 1:] * targets[self.perm]

    def apply(self, images: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        source = images if self.source is None else self.source
        partner = images[self.perm] if self.partner is None else self.partner
        mask = self.mask.to(images.dtype)
        mixed = mask * source + (1.0 - mask) * partner
        return mixed, self.mix_targets(targets)

    def preview(self, mixed: torch.Tensor) -> Preview:
        """The mixed images with the original and partner index of each and their label weights."""
        index = torch.arange(mixed.shape[0], device=mixed.device)
        weights = self.weights().to(mixed.device)
        return Preview(mixed, torch.stack([index, self.perm.to(mixed.device)], 1), weights)


def lam_from_mask(mask: torch.Tensor, batch: int) -> torch.Tensor:
    """The per-sample pixel share of the original image: the label weight that matches the mask."""
    return (
        mask.float().mean(dim=(1, 2, 3)).expand(batch).contiguous()
        if mask.shape[0] == 1
        else mask.float().mean(dim=(1, 2, 3))
    )


class InputMix(Method):
    """A method that mixes input images: subclasses implement `sample`."""

    kind = Kind.INPUT

    def sample(self, images: torch.Tensor) -> MixSample:
        raise NotImplementedError

    def mix(
        self, images: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, MixSample]:
        sample = self.sample(images)
        mixed, mixed_targets = sample.apply(images, targets)
        return mixed, mixed_targets, sample

    def loss(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        mixed, targets, sample = self.mix(images, self.targets(labels))
        return soft_cross_entropy(model(mixed), targets), {"lam": sample.lam.mean()}

    @torch.no_grad()
    def preview(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> Preview:
        mixed, _, sample = self.mix(images, self.targets(labels))
        return sample.preview(mixed)


class GuidedMix(Method):
    """A method that mixes input images with a mask computed from the model (e.g. from the input
    gradients, as PuzzleMix): subclasses implement `sample(model, images, labels)`."""

    kind = Kind.GUIDED

    def sample(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> MixSample:
        raise NotImplementedError

    def mix(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, MixSample]:
        sample = self.sample(model, images, labels)
        mixed, mixed_targets = sample.apply(images, self.targets(labels))
        return mixed, mixed_targets, sample

    def loss(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        mixed, targets, sample = self.mix(model, images, labels)
        return soft_cross_entropy(model(mixed), targets), {"lam": sample.lam.mean()}

    def preview(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> Preview:
        mixed, _, sample = self.mix(model, images, labels)
        return sample.preview(mixed.detach())
