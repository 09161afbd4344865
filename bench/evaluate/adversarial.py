"""The fgsm, pgd and autoattack evaluators (bench/evaluate/config.py): top-1 of every network on
its own adversarial examples, and the error 100 − top-1 that the papers report.

The attacks themselves are in `attacks.py` ([0, 1] pixel space, normalisation inside the model).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from bench.evaluate import attacks
from bench.evaluate.config import AutoAttackSettings, FgsmSettings, PgdSettings

if TYPE_CHECKING:
    from bench.evaluate.context import EvaluationContext

Records = dict[str, dict[str, Any]]


def _attack_all(
    context: EvaluationContext,
    what: str,
    batch_size: int,
    images: int,
    make_attack: Any,
    restarts: int = 1,
) -> Records:
    """network -> top-1 under the attack `make_attack()` builds for it (one attack per network, so
    a seeded attack draws the same starts for every network); a point counts as robust only if it
    survives every restart."""
    n = min(images, len(context.test)) if images else len(context.test)
    out = {}
    with context.progress(what, len(context.networks) * -(-n // batch_size)) as bar:
        for name, net in context.networks.items():
            out[name] = _robust_top1(net, context.batches(batch_size, images), make_attack(), restarts, bar)
    return out


def _robust_top1(
    net: nn.Module, batches: Any, attack: attacks.Attack, restarts: int, bar: Any
) -> dict[str, Any]:
    correct, total, linf, low, high = 0, 0, 0.0, 1.0, 0.0
    for x, y in batches:
        robust = torch.ones_like(y, dtype=torch.bool)
        for _ in range(restarts):
            adv = attack(net, x, y)
            with torch.no_grad():
                robust &= net(adv).argmax(dim=1) == y
            linf = max(linf, float((adv - x).abs().max()))
            low, high = min(low, float(adv.min())), max(high, float(adv.max()))
        correct += int(robust.sum())
        total += len(y)
        bar.advance()
    top1 = 100.0 * correct / max(total, 1)
    return {"top1": top1, "error": 100.0 - top1, "n": total, "linf_max_255": linf * 255, "range": [low, high]}


def evaluate_fgsm(context: EvaluationContext, settings: FgsmSettings) -> Records:
    """One untargeted step of ε on the cross-entropy of the true label, no random start, over the
    whole test split (`attacks.fgsm`, tested equal to torchattacks 3.5.1's FGSM)."""
    eps = settings.eps_255 / 255

    def make_attack() -> attacks.Attack:
        return lambda net, x, y: attacks.fgsm(net, x, y, eps)

    return _attack_all(context, "fgsm", settings.batch_size, 0, make_attack)


def evaluate_pgd(context: EvaluationContext, settings: PgdSettings) -> Records:
    """L-inf PGD (`attacks.pgd`, tested equal to torchattacks 3.5.1's PGD without random start);
    random starts from a generator seeded per network, drawn batch by batch."""
    eps, step = settings.eps_255 / 255, settings.pgd_step_size_255 / 255

    def make_attack() -> attacks.Attack:
        generator = torch.Generator().manual_seed(settings.seed)
        return lambda net, x, y: attacks.pgd(
            net,
            x,
            y,
            eps=eps,
            step_size=step,
            steps=settings.pgd_steps,
            random_start=settings.pgd_random_start,
            generator=generator,
        )

    return _attack_all(
        context, "pgd", settings.batch_size, settings.attack_images, make_attack, settings.pgd_restarts
    )


def evaluate_autoattack(context: EvaluationContext, settings: AutoAttackSettings) -> Records:
    """The reference AutoAttack (pyautoattack) on the first `attack_images` test images at once
    (it attacks only the points every earlier attack left robust, so it needs all of them)."""
    eps, bs = settings.eps_255 / 255, settings.batch_size
    n = min(settings.attack_images, len(context.test)) if settings.attack_images else len(context.test)
    x = context.test.images[:n].to(context.device).float().div_(255)
    y = context.test.labels[:n].to(context.device)
    out = {}
    with context.progress("autoattack", len(context.networks)) as bar:
        for name, net in context.networks.items():
            adv = attacks.autoattack(
                net, x, y, eps=eps, version=settings.autoattack_version, seed=settings.seed, batch_size=bs
            )
            with torch.no_grad():
                hits = sum(
                    int((net(adv[i : i + bs]).argmax(1) == y[i : i + bs]).sum()) for i in range(0, n, bs)
                )
            top1 = 100.0 * hits / max(n, 1)
            out[name] = {
                "top1": top1,
                "error": 100.0 - top1,
                "n": n,
                "linf_max_255": float((adv - x).abs().max()) * 255,
                "implementation": f"pyautoattack {_version('pyautoattack')} (reference implementation, Croce & Hein)",
            }
            bar.advance()
    return out


def _version(package: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
