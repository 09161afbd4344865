"""Random draws for mixing, always from an explicit CPU `torch.Generator`.

Methods never touch the global RNGs, so a run is reproducible from its seed and a test can pin
exactly what was sampled. Draws happen on the CPU (they are a handful of numbers per batch) and
the results are moved to the data's device (`runtime.to_device`: without making the host wait for
the GPU), so the CPU and GPU paths sample the same values.
"""

from __future__ import annotations

import torch
from scipy.special import betaincinv

from bench.runtime import to_device


def beta(
    alpha: float, generator: torch.Generator, size: int | tuple[int, ...] = (), b: float | None = None
) -> torch.Tensor:
    """Beta(alpha, b or alpha) samples by inverting the CDF of uniform draws from `generator`.

    torch's Beta sampler cannot take a generator, and the inverse CDF is exact.
    """
    shape = (size,) if isinstance(size, int) else tuple(size)
    u = torch.rand(shape, generator=generator, dtype=torch.float64)
    lam = betaincinv(alpha, alpha if b is None else b, u.numpy())
    return torch.as_tensor(lam, dtype=torch.float32)


def permutation(n: int, generator: torch.Generator, device: torch.device | str = "cpu") -> torch.Tensor:
    """A random permutation of range(n) on `device`: the partner of sample i is sample perm[i]."""
    return to_device(torch.randperm(n, generator=generator), torch.device(device))


def permutation_no_repeat(
    n: int, generator: torch.Generator, device: torch.device | str = "cpu", *, strict: bool = True
) -> torch.Tensor:
    """A permutation that tries to pair no sample with itself, as OpenMixup's `_no_repeat_shuffle_idx`.

    Up to 10 random permutations are checked; if all have a fixed point, a strict call returns a
    cyclic shift by a random offset (never a fixed point), a lenient one the next random draw.
    """
    identity = torch.arange(n)
    perm = torch.randperm(n, generator=generator)
    for _ in range(10):
        if not bool((perm == identity).any()):
            return to_device(perm, torch.device(device))
        perm = torch.randperm(n, generator=generator)
    if strict and n > 1:
        shift = 1 + int(torch.randint(max(n - 2, 1), (), generator=generator))
        perm = (identity + shift) % n
    return to_device(perm, torch.device(device))


def randint(high: int, generator: torch.Generator, size: int | tuple[int, ...] = ()) -> torch.Tensor:
    shape = (size,) if isinstance(size, int) else tuple(size)
    return torch.randint(high, shape, generator=generator)


def uniform(low: float, high: float, generator: torch.Generator) -> float:
    """One draw from U(low, high)."""
    return low + (high - low) * float(torch.rand((), generator=generator, dtype=torch.float64))


def choice(options: tuple | list, generator: torch.Generator):
    """One of `options`, uniformly."""
    return options[int(torch.randint(len(options), (), generator=generator))]


def box(height: int, width: int, lam: float, generator: torch.Generator) -> tuple[int, int, int, int]:
    """CutMix's box: area (1 - lam) of the image around a uniform centre, clipped to the image.

    Returns (top, bottom, left, right); the clipped box may be smaller than asked, so callers
    recompute lambda from its true area.
    """
    cut = (1.0 - lam) ** 0.5
    cy = int(torch.randint(height, (), generator=generator))
    cx = int(torch.randint(width, (), generator=generator))
    return box_at(height, width, int(height * cut), int(width * cut), cy, cx)


def box_at(height: int, width: int, cut_h: int, cut_w: int, cy: int, cx: int) -> tuple[int, int, int, int]:
    """The box of (about) cut_h x cut_w pixels centred on row cy, column cx, clipped to the image,
    as the CutMix reference code computes it: (top, bottom, left, right)."""
    top, bottom = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, height)
    left, right = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, width)
    return top, bottom, left, right
