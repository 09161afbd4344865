"""Adversarially Optimized Mixup (AOM): PGD through the mixup interpolation.

J. Bunk, S. Chattopadhyay, B. S. Manjunath, S. Chandrasekaran, "Adversarially Optimized Mixup for
Robust Classification", arXiv 2103.11589 (2021).

Only the paper's abstract and the opening of its introduction could be read, and no code was
released, so this is a reconstruction. What it takes from the abstract, and what is ours:

From the abstract:
* Mixup and adversarial training brought together by "adversarially probing the space between
  datapoints, using projected gradient descent (PGD)": an inner loop of PGD steps,
  backpropagating *through the mixup interpolation*, searches for the mixed point where the
  network's loss is highest, and the network is trained on that point (the outer minimisation of
  Madry et al.'s min-max, which the introduction names as its starting point).
* Two options the abstract names: "optimization of the mixup ratio" (PGD on lambda, here
  `optimize_lambda`) and "geometrical label assignment" (here `label: geometric`).

Our choices, with reasons:
* Pairs and lambda start as in MixUp (a random permutation of the batch, lambda ~ Beta(alpha,
  alpha)), but lambda is drawn per sample, so that PGD can move each sample's ratio on its own.
* The inner loop may move two things: lambda (sign-gradient steps of `lambda_step`, projected onto
  [0, 1] and onto |lambda - lambda_0| <= `lambda_radius`) and, if `perturb_pixels`, an additive
  perturbation delta of the mixed image (sign-gradient steps of `step_size`, projected onto the
  L-infinity ball of radius `eps` in [0, 1] pixel units, with a uniform random start as in Madry
  et al., and clipped so the image stays inside the valid pixel range). Sign steps are the L-inf
  steepest ascent of PGD; pixel units make eps = 8/255 mean what it means in the attacks the paper
  evaluates against.
* The inner loop maximises the same loss the outer step minimises: soft cross-entropy against the
  labels the point would be trained with (so for `optimize_lambda` the label moves with lambda).
* The attack runs the network in training mode (batch statistics, the function the outer step
  optimises) with BatchNorm's running statistics frozen, so the K extra forward passes leave the
  running statistics untouched; only the gradient with respect to lambda and delta is computed
  (no weight gradients accumulate).
* "Geometrical label assignment": the label weight of the first image is
  d(x', x_j) / (d(x', x_i) + d(x', x_j)), the relative Euclidean distances (in pixel space) of the
  final point x' to the two endpoints. On the segment (no pixel perturbation) it equals lambda
  exactly, so the option only matters when delta moves the point off the segment.
* Defaults (alpha 1, 3 steps, eps 8/255, step 2/255, lambda step 0.1) are conventional PGD-AT and
  MixUp values, not the paper's (which could not be read).
Cost: `steps` extra forward/backward passes (to the inputs only) per training step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from bench.methods import sampling
from bench.methods.base import Kind, Method, Paper, Preview
from bench.methods.targets import mix_targets, soft_cross_entropy
from bench.runtime import to_device


@dataclass(frozen=True)
class AOMParams:
    alpha: float = 1.0  # lambda_0 ~ Beta(alpha, alpha), one per sample
    steps: int = 3  # PGD iterations of the inner maximisation
    optimize_lambda: bool = True  # PGD on the mixing ratio
    lambda_step: float = 0.1  # sign-gradient step on lambda
    lambda_radius: float = 1.0  # |lambda - lambda_0| <= radius (1: anywhere in [0, 1])
    perturb_pixels: bool = True  # PGD on an additive perturbation of the mixed image
    eps: float = 8 / 255  # L-inf radius of that perturbation, in [0, 1] pixel units
    step_size: float = 2 / 255  # its sign-gradient step, in pixel units
    random_start: bool = True  # start the perturbation uniformly inside the eps-ball
    label: Literal["lambda", "geometric"] = "lambda"  # label weights: lambda, or distances of the final point

    def __post_init__(self) -> None:
        if self.alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.eps <= 0:
            raise ValueError(f"eps must be > 0, got {self.eps}")
        if not 0 < self.step_size <= self.eps:
            raise ValueError(f"step_size must be in (0, eps={self.eps:g}], got {self.step_size:g}")
        if self.lambda_step <= 0:
            raise ValueError(f"lambda_step must be > 0, got {self.lambda_step}")
        if not 0 < self.lambda_radius <= 1:
            raise ValueError(f"lambda_radius must be in (0, 1], got {self.lambda_radius}")
        if not (self.optimize_lambda or self.perturb_pixels):
            raise ValueError("nothing to optimise: set optimize_lambda or perturb_pixels (or use mixup)")


@dataclass
class AdversarialMix:
    """The inner loop's result: the final point, its label weights and the variables that made it."""

    images: torch.Tensor  # the mixed, perturbed images the classifier trains on
    perm: torch.Tensor  # partner of sample i is perm[i]
    lam0: torch.Tensor  # (B,) the sampled ratios
    lam: torch.Tensor  # (B,) the optimised ratios
    delta: torch.Tensor  # (B, C, H, W) the pixel perturbation actually applied, in normalised units
    weights: torch.Tensor  # (B,) label weight of the first image


@contextlib.contextmanager
def frozen_batchnorm_statistics(model: nn.Module) -> Iterator[None]:
    """Training-mode forwards that leave BatchNorm running statistics exactly as they were."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [
        (m.momentum, m.num_batches_tracked.clone() if m.num_batches_tracked is not None else None)
        for m in norms
    ]
    for m in norms:
        m.momentum = 0.0  # running = (1 - 0) * running + 0 * batch
    try:
        yield
    finally:
        for m, (momentum, tracked) in zip(norms, saved):
            m.momentum = momentum
            if tracked is not None:
                m.num_batches_tracked.copy_(tracked)


class AOM(Method):
    paper = Paper(
        "Bunk et al., Adversarially Optimized Mixup for Robust Classification, 2021 (reconstructed from the abstract)",
        "2103.11589",
    )
    kind = Kind.ADVERSARIAL
    cost_target = 4.1  # 3 PGD steps (its default)
    Params = AOMParams

    def _pixel_scale(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(std, lowest, highest) per channel in normalised units, shaped (1, C, 1, 1)."""
        std = to_device(torch.tensor(self.ctx.std, dtype=images.dtype), images.device).view(1, -1, 1, 1)
        mean = to_device(torch.tensor(self.ctx.mean, dtype=images.dtype), images.device).view(1, -1, 1, 1)
        return std, (0 - mean) / std, (1 - mean) / std

    def label_weights(
        self,
        point: torch.Tensor,
        first: torch.Tensor,
        second: torch.Tensor,
        lam: torch.Tensor,
        std: torch.Tensor,
    ) -> torch.Tensor:
        """Label weight of the first image for each mixed point."""
        if self.p.label == "lambda":
            return lam
        to_first = ((point - first) * std).flatten(1).norm(dim=1)
        to_second = ((point - second) * std).flatten(1).norm(dim=1)
        span = ((first - second) * std).flatten(1).norm(dim=1)
        # A sample paired with itself (or an identical image) has no geometry: keep lambda.
        return torch.where(span > 1e-6, to_second / (to_first + to_second).clamp_min(1e-12), lam)

    def adversarial_mix(
        self, model: nn.Module, images: torch.Tensor, targets: torch.Tensor
    ) -> AdversarialMix:
        """Sample pairs and ratios, then run the PGD inner loop on (lambda, delta)."""
        p, gen = self.p, self.ctx.generator
        batch = images.shape[0]
        perm = self.permutation(images)
        lam = to_device(sampling.beta(p.alpha, gen, batch), images.device)
        lam0 = lam.clone()
        std, lowest, highest = self._pixel_scale(images)
        eps, step = p.eps / std, p.step_size / std  # pixel units -> normalised units, per channel
        first, second = images.detach(), images.detach()[perm]
        delta = torch.zeros_like(images)
        if p.perturb_pixels and p.random_start:
            delta = (
                to_device(torch.rand(images.shape, generator=gen), images.device).to(images) * 2 - 1
            ) * eps
        low, high = (lam0 - p.lambda_radius).clamp(0, 1), (lam0 + p.lambda_radius).clamp(0, 1)

        def point(lam: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
            blend = lam.view(-1, 1, 1, 1) * first + (1 - lam.view(-1, 1, 1, 1)) * second
            return torch.maximum(torch.minimum(blend + delta, highest), lowest)  # stay inside [0, 1] pixels

        with frozen_batchnorm_statistics(model), torch.enable_grad():
            for _ in range(p.steps):
                lam.requires_grad_(p.optimize_lambda)
                delta.requires_grad_(p.perturb_pixels)
                x = point(lam, delta)
                weights = self.label_weights(x, first, second, lam, std)
                loss = soft_cross_entropy(model(x), mix_targets(targets, perm, weights))
                wrt = [v for v in (lam, delta) if v.requires_grad]
                grads = dict(zip((id(v) for v in wrt), torch.autograd.grad(loss, wrt)))
                with torch.no_grad():
                    if p.optimize_lambda:
                        lam = torch.minimum(
                            torch.maximum(lam + p.lambda_step * grads[id(lam)].sign(), low), high
                        )
                    if p.perturb_pixels:
                        delta = torch.minimum(
                            torch.maximum(delta + step * grads[id(delta)].sign(), -eps), eps
                        )
        lam, delta = lam.detach(), delta.detach()
        x = point(lam, delta)
        blend = lam.view(-1, 1, 1, 1) * first + (1 - lam.view(-1, 1, 1, 1)) * second
        weights = self.label_weights(x, first, second, lam, std)
        return AdversarialMix(x, perm, lam0, lam, x - blend, weights)

    def loss(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        targets = self.targets(labels)
        mix = self.adversarial_mix(model, images, targets)
        loss = soft_cross_entropy(model(mix.images), mix_targets(targets, mix.perm, mix.weights))
        return loss, {"lam": mix.lam.mean(), "lam_shift": (mix.lam - mix.lam0).abs().mean()}

    def preview(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> Preview:
        mix = self.adversarial_mix(model, images, self.targets(labels))
        index = torch.arange(images.shape[0], device=images.device)
        return Preview(
            mix.images, torch.stack([index, mix.perm], 1), torch.stack([mix.weights, 1 - mix.weights], 1)
        )
