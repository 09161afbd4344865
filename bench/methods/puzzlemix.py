"""PuzzleMix: a saliency-aware mixing mask from a graph cut, then optimal transport of salient blocks.

J.-H. Kim, W. Choo, H. O. Song, "Puzzle Mix: Exploiting Saliency and Local Statistics for Optimal
Mixup", ICML 2020, arXiv 2009.06962. Follows the official code (snu-mllab/PuzzleMix, `mixup.py`
and `main.py`), which OpenMixup's `puzzlemix.py` copies, with its CIFAR settings:

1. saliency: one extra forward and backward of the batch with the network in eval mode; the
   saliency of a pixel is the RMS over channels of the input gradient of the cross-entropy;
2. per batch: lam ~ Beta(alpha, alpha), a random permutation, and a grid of n x n blocks with n
   drawn uniformly from `block_nums` (official CIFAR: 2^U{1..4} = 2, 4, 8, 16);
3. per sample, a graph cut over the blocks (gco-wrapper's `cut_grid_graph`, alpha-beta swap,
   `n_labels` mixing levels 0, 1/2, 1): unary terms are the block saliencies of both images
   (normalised to sum 1) plus the prior eta * -log(Binomial(lam)); pairwise terms are label
   smoothness beta plus gamma times the pixel differences across block borders (pooled over
   `neigh_size` pixels); integer costs scaled by 1000 n^2, exactly as the official code;
4. optimal transport (`transport`): each image's blocks move, at the `t_size`-pixel resolution, to
   where the mask keeps it, by the official iterative row/column assignment (`t_eps` weighs the
   distance moved against the saliency gained, for n_iter = blocks-per-side rounds);
5. the mask is upsampled to pixels; each sample's label weight is its mask's mean.

Defaults are the official CIFAR command (alpha 1, beta 1.2, gamma 0.5, eta 0.2, neigh_size 4,
n_labels 3, transport with t_eps 0.8, t_size 4), equal to OpenMixup's CIFAR config. The optional
adversarial noise (`adv_p`, off in the benchmarks) is not implemented. The mask and the transported
images match the official code on fixed inputs (tests/fixtures/puzzlemix_official.npz).

Needs gco-wrapper (`pip install 'mixup-bench[puzzlemix]'`); a suite that uses PuzzleMix without it
is rejected when it is validated. Images must be divisible into every block grid.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.methods import sampling
from bench.methods.base import GuidedMix, MixSample, Paper

INSTALL_HINT = "pip install 'mixup-bench[puzzlemix]'  (or: pip install gco-wrapper)"


@dataclass(frozen=True)
class PuzzleMixParams:
    alpha: float = 1.0  # lam ~ Beta(alpha, alpha): the prior share of the original image
    block_nums: tuple[int, ...] = (2, 4, 8, 16)  # blocks per side of the graph-cut grid, drawn uniformly
    beta: float = 1.2  # label smoothness between neighbouring blocks
    gamma: float = 0.5  # data smoothness: pixel differences across block borders
    eta: float = 0.2  # weight of the prior that the mask's mean is lam
    neigh_size: int = 4  # pixels pooled when comparing across a block border
    n_labels: int = 3  # mixing levels per block: 2 -> {0, 1}, 3 -> {0, 1/2, 1}, 4 -> thirds
    transport: bool = True  # move salient blocks into the kept region (optimal transport step)
    t_eps: float = 0.8  # transport: cost of distance relative to saliency
    t_size: int = 4  # transport block side in pixels (-1: the graph-cut blocks)

    def __post_init__(self) -> None:
        if self.alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")
        if not self.block_nums or any(n < 2 for n in self.block_nums):
            raise ValueError(f"block_nums must be a list of grid sizes >= 2, got {list(self.block_nums)}")
        if self.n_labels not in (2, 3, 4):
            raise ValueError(f"n_labels must be 2, 3 or 4, got {self.n_labels}")
        for key in ("beta", "gamma", "eta", "t_eps"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key} must be >= 0, got {getattr(self, key)}")
        if self.neigh_size < 1:
            raise ValueError(f"neigh_size must be >= 1, got {self.neigh_size}")
        if self.t_size != -1 and self.t_size < 1:
            raise ValueError(f"t_size must be -1 or >= 1, got {self.t_size}")


def _grid_error(image_size: int, p: PuzzleMixParams) -> str | None:
    """Why these block grids do not fit this image size, or None."""
    for n in p.block_nums:
        if image_size % n:
            return f"block_nums: {image_size} px images cannot be cut into {n} x {n} equal blocks"
    for n in p.block_nums:
        block = image_size // n
        t_size = min(p.t_size, block)
        if p.transport and 0 < t_size < block and block % t_size:
            return (
                f"t_size: {block} px blocks (block_nums {n}) cannot be cut into {t_size} px transport blocks"
            )
    return None


@functools.cache
def _distance(width: int, device: torch.device) -> torch.Tensor:
    """(w^2, w^2) squared grid distance between blocks, divided by (w - 1)^2: the transport cost."""
    yx = torch.stack(torch.meshgrid(torch.arange(width), torch.arange(width), indexing="ij"), -1).view(-1, 2)
    return ((yx[:, None] - yx[None, :]) ** 2).sum(-1).float().div((width - 1) ** 2).to(device)


def _border_difference(a: torch.Tensor, b: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean |a - b| across each horizontal and vertical block border of pooled images (B, C, h, w),
    blocks of k x k pooled pixels: (B, n - 1, n) between vertical neighbours, (B, n, n - 1) between
    horizontal ones (a on the first side of the border, b on the second)."""
    down = (a[:, :, :-1, :] - b[:, :, 1:, :])[:, :, k - 1 :: k, :]
    right = (a[:, :, :, :-1] - b[:, :, :, 1:])[:, :, :, k - 1 :: k]
    return (
        F.avg_pool2d(down.abs().mean(1), kernel_size=(1, k)),
        F.avg_pool2d(right.abs().mean(1), kernel_size=(k, 1)),
    )


def graph_cut(
    unary_partner: np.ndarray,
    unary_original: np.ndarray,
    cost_down: np.ndarray,
    cost_right: np.ndarray,
    lam: float,
    beta: float,
    eta: float,
    n_labels: int,
) -> np.ndarray:
    """One sample's (n, n) mask, the original's share per block, by alpha-beta swap.

    `unary_*` are the (n, n) block saliencies (with the data-smoothness terms folded in), `cost_*`
    the border terms between vertical (n - 1, n) and horizontal (n, n - 1) neighbours. Label i
    shows the partner with weight s_i = i / (n_labels - 1); it costs s_i x the original's saliency
    plus (1 - s_i) x the partner's, plus the prior -eta log Binomial(i; n_labels - 1, 1 - lam) / n^2.
    Costs become integers scaled by 1000 n^2 and the label-compatibility matrix (s_i - s_j)^2 stays
    float (gco-wrapper rescales it), exactly as the official code calls gco.
    """
    import gco

    n = unary_partner.shape[0]
    scale = 1000 * n**2
    last = n_labels - 1
    prior = np.array(
        [-np.log(math.comb(last, i) * lam ** (last - i) * (1 - lam) ** i + 1e-8) for i in range(n_labels)]
    )
    prior = eta * prior / n**2
    shares = np.linspace(0, 1, n_labels)
    unary = np.stack(
        [
            (1 - s) * unary_partner.astype(np.float64) + s * unary_original.astype(np.float64) + prior[i]
            for i, s in enumerate(shares)
        ],
        axis=-1,
    )
    compatibility = ((np.arange(n_labels)[:, None] - np.arange(n_labels)[None, :]) ** 2 / last**2).astype(
        np.float32
    )
    labels = gco.cut_grid_graph(
        (scale * unary).astype(np.int32),
        compatibility,
        (scale * (cost_down.astype(np.float32) + beta)).astype(np.int32),
        (scale * (cost_right.astype(np.float32) + beta)).astype(np.int32),
        algorithm="swap",
    )
    return 1.0 - labels.reshape(n, n) / last


def transport_plan(mask: torch.Tensor, saliency: torch.Tensor, eps: float) -> torch.Tensor:
    """For each of the m^2 target blocks, the source block moved there (-1: none), (B, m^2).

    The official iterative assignment, m rounds: every source picks its cheapest target (cost:
    eps x distance moved - its saliency if `mask` keeps the target); every target then takes the
    first minimum of its column of (picked ? cost : 0), so a source wins it only by a cost below
    zero, or by cost 0 before the first non-picking row, or when every source picked it; losers
    pay 1 more for that target. The official code does this on dense (m^2 x m^2) 0/1 plans; here
    only the picks are kept, with the same ties and the same result, at a fraction of the cost.
    """
    batch, m = mask.shape[0], mask.shape[-1]
    n = m * m
    kept = (mask > 0).float().reshape(batch, 1, n)
    cost = (
        eps * _distance(m, mask.device)[None] - saliency.reshape(batch, n, 1) * kept
    )  # (B, sources, targets)
    rows = torch.arange(n, device=mask.device).expand(batch, n)
    picks = cost.min(-1)[1]  # each source's cheapest target
    for step in range(m):
        value = cost.gather(-1, picks[..., None])[..., 0]  # (B, sources)
        best = torch.full_like(value, float("inf")).scatter_reduce(1, picks, value, "amin")  # per target
        first_best = torch.full_like(picks, n).scatter_reduce(
            1, picks, torch.where(value == best.gather(1, picks), rows, n), "amin"
        )
        pickers = torch.zeros_like(picks).scatter_add(1, picks, torch.ones_like(picks))
        # The first source that did not pick a target: 0, or the length of the leading run of
        # sources that all picked the same target.
        run = (picks != picks[:, :1]).int().argmax(1)
        run = torch.where((picks == picks[:, :1]).all(1), n, run)
        first_other = torch.zeros_like(picks).scatter(1, picks[:, :1], run[:, None])
        wins = (best < 0) | (pickers == n) | ((best == 0) & (first_best < first_other))
        sources = torch.where(wins, first_best, -1)
        if step == m - 1:
            return sources
        lost = sources.gather(1, picks) != rows
        b, i = lost.nonzero(as_tuple=True)
        cost[b, i, picks[b, i]] += 1.0
        picks[b, i] = cost[b, i].min(-1)[1]
    raise AssertionError("unreachable")


def transport(images: torch.Tensor, sources: torch.Tensor, m: int) -> torch.Tensor:
    """Move m x m blocks of `images`: target block j becomes source block sources[j] (-1: zeros)."""
    b, c, h, w = images.shape
    blocks = images.reshape(b, c, m, h // m, m, w // m).permute(0, 1, 2, 4, 3, 5).reshape(b, c, m * m, -1)
    index = sources.clamp(min=0)[:, None, :, None].expand(b, c, m * m, blocks.shape[-1])
    moved = blocks.gather(2, index) * (sources >= 0)[:, None, :, None].to(images.dtype)
    return moved.reshape(b, c, m, m, h // m, w // m).permute(0, 1, 2, 4, 3, 5).reshape(b, c, h, w)


class PuzzleMix(GuidedMix):
    paper = Paper(
        "Kim et al., Puzzle Mix: Exploiting Saliency and Local Statistics for Optimal Mixup, ICML 2020",
        "2009.06962",
    )
    cost_target = 2.3
    Params = PuzzleMixParams

    @classmethod
    def missing_dependency(cls) -> str | None:
        if importlib.util.find_spec("gco") is None:
            return (
                f"it needs the optional dependency gco-wrapper (import gco); install it with: {INSTALL_HINT}"
            )
        return None

    @classmethod
    def check_compatible(cls, *, backbone: str, dataset: str, image_size: int, params: Any = None) -> None:
        error = _grid_error(image_size, params or cls.Params())
        if error:
            raise ValueError(error)

    def saliency(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(B, H, W) RMS over channels of the input gradient of the loss, the network in eval mode."""
        was_training = model.training
        model.eval()
        try:
            with torch.enable_grad():
                x = images.detach().requires_grad_(True)
                loss = F.cross_entropy(model(x).float(), labels)  # hard labels, as the official code
                (grad,) = torch.autograd.grad(loss, x)  # input gradient only: no parameter .grad touched
        finally:
            model.train(was_training)
        return grad.float().pow(2).mean(1).sqrt()

    def sample(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> MixSample:
        p, g = self.p, self.ctx.generator
        saliency = self.saliency(model, images, labels)
        lam = float(sampling.beta(p.alpha, g))
        n = sampling.choice(p.block_nums, g)
        perm = self.permutation(images)
        with torch.no_grad():
            return self.mix_with(images.detach(), saliency, perm, lam, n)

    def mix_with(
        self, images: torch.Tensor, saliency: torch.Tensor, perm: torch.Tensor, lam: float, n: int
    ) -> MixSample:
        """The mix for a given saliency map, partners, lam and n x n grid: the deterministic part."""
        p = self.p
        batch, _, _, width = images.shape
        block = width // n
        neigh = min(p.neigh_size, block)
        beta = p.beta / n / 16  # the official normalisation of the smoothness weights

        def block_saliency(size: int) -> torch.Tensor:
            pooled = F.avg_pool2d(saliency, size)
            return pooled / pooled.reshape(batch, -1).sum(1).reshape(batch, 1, 1)

        unary_original = block_saliency(block)
        unary_partner = unary_original[perm]

        # Data smoothness: pixel differences across each block border, for the four label pairs.
        pooled = F.avg_pool2d(self.ctx.to_pixels(images.float()), neigh)
        k = block // neigh
        pairs = {  # (first side, second side) -> which image shows there: 0 partner, 1 original
            (0, 0): (pooled[perm], pooled[perm]),
            (0, 1): (pooled[perm], pooled),
            (1, 0): (pooled, pooled[perm]),
            (1, 1): (pooled, pooled),
        }
        down, right = {}, {}
        for key, (a, b) in pairs.items():
            d, r = _border_difference(a, b, k)
            down[key], right[key] = beta * p.gamma * d, beta * p.gamma * r
        # Fold the label-dependent part of each border term into the unaries, as the official code.
        u_partner, u_original = unary_partner.clone(), unary_original.clone()
        u_partner[:, :-1, :] += (down[1, 0] + down[1, 1]) / 2
        u_original[:, :-1, :] += (down[0, 1] + down[0, 0]) / 2
        u_partner[:, 1:, :] += (down[0, 1] + down[1, 1]) / 2
        u_original[:, 1:, :] += (down[1, 0] + down[0, 0]) / 2
        u_partner[:, :, :-1] += (right[1, 0] + right[1, 1]) / 2
        u_original[:, :, :-1] += (right[0, 1] + right[0, 0]) / 2
        u_partner[:, :, 1:] += (right[0, 1] + right[1, 1]) / 2
        u_original[:, :, 1:] += (right[1, 0] + right[0, 0]) / 2
        cost_down = (down[1, 0] + down[0, 1] - down[1, 1] - down[0, 0]) / 2
        cost_right = (right[1, 0] + right[0, 1] - right[1, 1] - right[0, 0]) / 2

        arrays = [t.cpu().numpy() for t in (u_partner, u_original, cost_down, cost_right)]
        masks = [graph_cut(up, uo, cd, cr, lam, beta, p.eta, p.n_labels) for up, uo, cd, cr in zip(*arrays)]
        mask = torch.tensor(np.stack(masks), dtype=torch.float32, device=images.device)[:, None]

        source, partner = images, images[perm]
        if p.transport:
            t_size = min(p.t_size, block)
            if t_size == -1 or t_size >= block:
                m = n
            else:  # transport on a finer grid than the graph cut
                m = width // t_size
                mask = F.interpolate(mask, size=m)
                unary_original = block_saliency(t_size)
                unary_partner = unary_original[perm]
            source = transport(source, transport_plan(mask, unary_original, p.t_eps), m)
            partner = transport(partner, transport_plan(1 - mask, unary_partner, p.t_eps), m)
        mask = F.interpolate(mask, size=width)
        return MixSample(perm, mask, mask.mean(dim=(1, 2, 3)), partner=partner, source=source)
