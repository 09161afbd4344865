"""ManifoldMix: mix hidden representations at a randomly chosen depth, and the labels alike.

V. Verma, A. Lamb, C. Beckham, A. Najafi, I. Mitliagkas, D. Lopez-Paz, Y. Bengio, "Manifold Mixup:
Better Representations by Interpolating Hidden States", ICML 2019, arXiv 1806.05236. As in
OpenMixup's benchmark (`_manifoldmix` with the `ResNet_Mix*` backbones): per batch, lam ~ Beta(alpha,
alpha), a random permutation as partners, and a layer drawn uniformly from `layers`, where 0 is the
input and k is the output of residual stage k (`layer1`..`layer3`); OpenMixup's default
`layer=(0, 3)` is {input, stage 1, stage 2}, our `layers: [0, 1, 2]`. The features there become
lam * h + (1 - lam) * h[perm] and the loss uses the same lam on the labels. alpha = 2 is OpenMixup's
CIFAR value.

The backbone is not changed: a forward hook on the chosen stage replaces its output for one forward
pass, so any network with ResNet-style stage modules `layer1`..`layer3` works (timm ResNets and
ResNeXts, `tiny_resnet`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from bench import registry
from bench.errors import BenchError
from bench.methods import sampling
from bench.methods.base import Kind, Method, Paper, Preview
from bench.methods.targets import mix_targets, soft_cross_entropy


@dataclass(frozen=True)
class ManifoldMixParams:
    alpha: float = 2.0  # lam ~ Beta(alpha, alpha)
    layers: tuple[int, ...] = (0, 1, 2)  # where to mix: 0 the input, k the output of stage layer<k>

    def __post_init__(self) -> None:
        if self.alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")
        if (
            not self.layers
            or any(not 0 <= k <= 3 for k in self.layers)
            or len(set(self.layers)) < len(self.layers)
        ):
            raise ValueError(
                f"layers must be distinct values in 0..3 (0: the input, k: after layer<k>), got {list(self.layers)}"
            )


class ManifoldMix(Method):
    paper = Paper(
        "Verma et al., Manifold Mixup: Better Representations by Interpolating Hidden States, ICML 2019",
        "1806.05236",
    )
    kind = Kind.FEATURE
    cost_target = 1.05
    Params = ManifoldMixParams

    @classmethod
    def check_compatible(cls, *, backbone: str, dataset: str, image_size: int, params: Any = None) -> None:
        family = registry.family(backbone)
        if family is None or not family.residual_stages:
            able = [
                name for name in registry.BACKBONES if getattr(registry.family(name), "residual_stages", 0)
            ]
            raise ValueError(
                f"it mixes the outputs of the residual stages layer1..layer3, which only ResNet-style "
                f"backbones have ({', '.join(able)}); got {backbone}"
            )

    def setup(self, model: nn.Module) -> None:
        missing = [
            f"layer{k}"
            for k in self.p.layers
            if k and not isinstance(getattr(model, f"layer{k}", None), nn.Module)
        ]
        if missing:
            raise BenchError(f"manifoldmix: the model has no module {', '.join(missing)} to mix after")

    def draw(self, images: torch.Tensor) -> tuple[int, torch.Tensor, float]:
        """(layer, partners, lam) for one batch."""
        g = self.ctx.generator
        lam = float(sampling.beta(self.p.alpha, g))
        layer = sampling.choice(self.p.layers, g)
        return layer, self.permutation(images), lam

    def forward_mixed(
        self, model: nn.Module, images: torch.Tensor, layer: int, perm: torch.Tensor, lam: float
    ) -> torch.Tensor:
        """The logits of `model` with its features mixed after `layer` (0: the input)."""
        if layer == 0:
            return model(lam * images + (1.0 - lam) * images[perm])

        def mix(module: nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor:
            return lam * output + (1.0 - lam) * output[perm]

        handle = getattr(model, f"layer{layer}").register_forward_hook(mix)
        try:
            return model(images)
        finally:
            handle.remove()

    def loss(
        self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        layer, perm, lam = self.draw(images)
        targets = mix_targets(self.targets(labels), perm, torch.tensor(lam))
        logits = self.forward_mixed(model, images, layer, perm, lam)
        return soft_cross_entropy(logits, targets), {"lam": torch.tensor(lam)}

    @torch.no_grad()
    def preview(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> Preview:
        """At layer 0 the mixed input; deeper, the unmixed inputs (the mix happens in feature space)."""
        layer, perm, lam = self.draw(images)
        index = torch.arange(images.shape[0], device=images.device)
        weights = torch.tensor([lam, 1.0 - lam], device=images.device).expand(images.shape[0], 2).contiguous()
        sources = torch.stack([index, perm], 1)
        if layer == 0:
            return Preview(
                lam * images + (1.0 - lam) * images[perm], sources, weights, note="mixed at the input"
            )
        return Preview(images, sources, weights, note=f"input shown; mixed after layer{layer}")
