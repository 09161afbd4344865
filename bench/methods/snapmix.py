"""SnapMix: cut a box from the partner, paste it resized into a box of the original, and weigh the
labels by how much of each image's class activation map the mix keeps.

S. Huang, X. Wang, D. Tao, "SnapMix: Semantically Proportional Mixing for Augmenting Fine-grained
Data", AAAI 2021, arXiv 2012.04846. As OpenMixup's `snapmix` in the AdAutoMix release
(openmixup/models/augments/snapmix.py with `MixUpClassification._features` and `ClsHead.loss`),
which produced the SnapMix rows of AdAutoMix's fine-grained table (CUB-200 ResNet-50, Stanford Cars
ResNet-18, released logs):

* class activation maps (CAM) of the clean batch, from the classifier in eval mode (batch norm on
  its running statistics, nothing updated) and without gradients: the final linear layer applied at
  every position of the last stage's ReLU'd map, the map of each image's own label, upsampled
  bilinearly to the image, shifted to a minimum of 0 and normalised to sum 1;
* one partner permutation and two boxes per batch, each drawn as CutMix's (area 1 - lambda around a
  uniform centre, clipped to the image) with its own lambda ~ Beta(alpha, alpha): the partner's
  pixels inside the second box are resized (bilinear, corners aligned) into the first box of the
  original;
* label weights: the original keeps 1 - (its CAM mass inside the first box), the partner brings
  (its CAM mass inside the second box); when both images have the same label each weight becomes
  their sum; a weight that is not a number (a constant CAM) falls back to the pixel share. When
  either box is empty nothing is mixed (weights 1 and 0).

Where the paper and the released code differ we follow the code: its loss is
mean(w_a) * CE(y_a) + mean(w_b) * CE(y_b) with both cross-entropies averaged over the batch (the
head reduces each before weighting), not the paper's per-sample mean(w_a * CE_a + w_b * CE_b);
`label_weights: per_sample` gives the paper's. The weights need not sum to 1 (they are semantic
shares, not pixel shares), so the method has `share_labels = False`. alpha = 1.0 is the released
CUB-200 ResNet-50 config's value (its Stanford Cars ResNet-18 config uses 0.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from bench import registry
from bench.methods import sampling
from bench.methods.base import GuidedMix, MixSample, Paper, lam_from_mask
from bench.methods.cutmix import box_mask
from bench.models import features

EPS = 1e-8  # the released code's guard against an empty CAM


@dataclass(frozen=True)
class SnapMixParams:
    alpha: float = 1.0  # both boxes' lambda ~ Beta(alpha, alpha)
    # batch_mean: the released code's loss (each image's weights replaced by the batch means);
    # per_sample: the paper's (each image's cross-entropies weighted by its own weights)
    label_weights: Literal["batch_mean", "per_sample"] = "batch_mean"

    def __post_init__(self) -> None:
        if self.alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")


def class_activation_maps(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B, H, W): each image's CAM for its own label (`cams_from`), the model in eval mode and
    without gradients (its batch norms use, and keep, their running statistics)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            maps = model.forward_features(images)
            fc = features.classifier(model)
            return cams_from(maps, fc.weight, fc.bias, labels, images.shape[-2:])
    finally:
        model.train(was_training)


def cams_from(
    maps: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, labels: torch.Tensor, size: tuple[int, int]
) -> torch.Tensor:
    """(B, H, W) from the last stage's maps (B, C, h, w) and the classifier's weight (K, C) and bias
    (K,): the linear layer at every position of the ReLU'd map, for each image's label, upsampled
    bilinearly to `size`, shifted to a minimum of 0 and normalised to sum 1 (NaN for a constant map)."""
    maps = F.relu(maps.float())
    cams = torch.einsum("bchw,bc->bhw", maps, weight.float()[labels]) + bias.float()[labels][:, None, None]
    cams = F.interpolate(cams[:, None], size=tuple(size), mode="bilinear", align_corners=False)[:, 0]
    cams = cams - cams.amin(dim=(1, 2), keepdim=True)
    return cams / cams.sum(dim=(1, 2), keepdim=True)


def snap_weights(
    cams: torch.Tensor,
    perm: torch.Tensor,
    labels: torch.Tensor,
    box: tuple[int, int, int, int],
    partner_box: tuple[int, int, int, int],
) -> torch.Tensor:
    """(B, 2): the CAM mass the original keeps outside `box` and the partner brings from
    `partner_box`, as the released code computes them (same labels: both become their sum; not a
    number: the pixel share)."""
    top, bottom, left, right = box
    p_top, p_bottom, p_left, p_right = partner_box
    total = cams.sum(dim=(1, 2)) + EPS
    keep = 1 - cams[:, top:bottom, left:right].sum(dim=(1, 2)) / total
    brought = cams[perm][:, p_top:p_bottom, p_left:p_right].sum(dim=(1, 2)) / total[perm]
    same = labels == labels[perm]
    keep, brought = torch.where(same, keep + brought, keep), torch.where(same, brought + keep, brought)
    height, width = cams.shape[-2:]
    lam = 1 - (bottom - top) * (right - left) / (height * width)
    keep = torch.where(keep.isnan(), torch.full_like(keep, lam), keep)
    brought = torch.where(brought.isnan(), torch.full_like(brought, 1 - lam), brought)
    return torch.stack([keep, brought], 1)


class SnapMix(GuidedMix):
    paper = Paper(
        "Huang et al., SnapMix: Semantically Proportional Mixing for Augmenting Fine-grained Data, AAAI 2021",
        "2012.04846",
    )
    share_labels = False
    cost_target = 1.45  # one extra forward pass (eval mode, no gradients) for the CAMs
    Params = SnapMixParams

    @classmethod
    def check_compatible(cls, *, backbone: str, dataset: str, image_size: int, params: Any = None) -> None:
        family = registry.family(backbone)
        if family is None or not family.class_activation_maps:
            able = [n for n in registry.BACKBONES if getattr(registry.family(n), "class_activation_maps", 0)]
            raise ValueError(
                "its class activation maps need a classifier that is one linear layer on the pooled "
                f"last-stage map ({', '.join(able)}); got {backbone}"
            )

    def sample(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> MixSample:
        _, _, height, width = images.shape
        g = self.ctx.generator
        lam, partner_lam = (float(x) for x in sampling.beta(self.p.alpha, g, 2))
        perm = self.permutation(images)
        box = sampling.box(height, width, lam, g)
        partner_box = sampling.box(height, width, partner_lam, g)
        if _area(box) == 0 or _area(partner_box) == 0:  # nothing is mixed
            ones = torch.ones(images.shape[0], device=images.device)
            mask = torch.ones(1, 1, height, width, device=images.device)
            return MixSample(perm, mask, ones, label_weights=torch.stack([ones, 0 * ones], 1))
        cams = class_activation_maps(model, images.detach(), labels)
        weights = snap_weights(cams, perm, labels, box, partner_box)
        if self.p.label_weights == "batch_mean":
            weights = weights.mean(0, keepdim=True).expand_as(weights)
        mask = box_mask(height, width, box, images.device)
        partner = _pasted(images.detach(), perm, box, partner_box)
        return MixSample(perm, mask, lam_from_mask(mask, images.shape[0]), partner, label_weights=weights)


def _area(box: tuple[int, int, int, int]) -> int:
    top, bottom, left, right = box
    return (bottom - top) * (right - left)


def _pasted(
    images: torch.Tensor,
    perm: torch.Tensor,
    box: tuple[int, int, int, int],
    partner_box: tuple[int, int, int, int],
) -> torch.Tensor:
    """A batch whose `box` holds each partner's `partner_box`, resized (bilinear, corners aligned);
    only that box is ever shown."""
    top, bottom, left, right = box
    p_top, p_bottom, p_left, p_right = partner_box
    partner = torch.zeros_like(images)
    crop = images[perm][:, :, p_top:p_bottom, p_left:p_right]
    partner[:, :, top:bottom, left:right] = F.interpolate(
        crop, size=(bottom - top, right - left), mode="bilinear", align_corners=True
    )
    return partner
