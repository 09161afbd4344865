"""The notes under the robustness table: what each number is, with the settings stored beside it,
the corrupted sets and how they were generated, and the machines that computed them.

Every evaluator's settings are printed from the records (never from the current defaults); an
evaluator without a sentence here gets its settings listed as `key = value`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bench.evaluate.config import EVALUATORS

if TYPE_CHECKING:
    from bench.report.robustness import RobustnessCells


def _eps(s: dict[str, Any]) -> str:
    return f"ε = {s['eps_255']:g}/255"


def _images(s: dict[str, Any]) -> str:
    return f"the first {s['attack_images']} test images" if s.get("attack_images") else "the whole test split"


SENTENCES: dict[str, Callable[[dict[str, Any]], str]] = {
    "fgsm": lambda s: (
        f"- FGSM Error = 100 − top-1 on FGSM examples over the whole test split: {_eps(s)}, one untargeted "
        "step on the cross-entropy of the true label, no random start, in [0, 1] pixel space "
        "(normalisation inside the model), model in eval mode."
    ),
    "pgd": lambda s: (
        f"- PGD Error = 100 − top-1 under L∞ PGD: {_eps(s)}, {s['pgd_steps']} steps of "
        f"{s['pgd_step_size_255']:g}/255, {'random start' if s['pgd_random_start'] else 'no random start'}, "
        f"{s['pgd_restarts']} restart(s), seed {s['seed']}, on {_images(s)}."
    ),
    "autoattack": lambda s: (
        f"- AutoAttack Error = 100 − robust top-1: {_eps(s)}, version {s['autoattack_version']}, seed "
        f"{s['seed']}, on {_images(s)}; the reference implementation (pyautoattack)."
    ),
    "ece": lambda s: (
        f"- ECE (%): {s['ece_bins']} equal-width confidence bins, right-closed, weighted by bin size (the "
        "standard definition; the AdAutoMix code sorts the per-bin accuracies and confidences separately, "
        "which is not this). Reliability diagrams: `reliability.png` in each run folder."
    ),
    "occlusion": lambda s: (
        f"- Occlusion AUC (%): top-1 as squares of {s['occlusion_patch']} px, drawn per batch of "
        f"{s['batch_size']} images (seed {s['seed']}) and shared by the batch, are set to the dataset's "
        "mean colour, at occlusion ratios "
        + ", ".join(f"{r:g}" for r in s["occlusion_ratios"])
        + " (AdAutoMix's occlusion_robustness.py); the area is the mean top-1 over the occluded share "
        "(trapezoid rule). Curves: the report's `-occlusion.png` and `occlusion.png` in each run folder."
    ),
}


def _settings(collected: RobustnessCells, evaluator: str) -> list[dict[str, Any]]:
    found = {
        json.dumps(record.get("settings", {}), sort_keys=True)
        for _, store in collected.stores
        for record in store.get(evaluator, {}).values()
    }
    return [json.loads(s) for s in sorted(found)]


def _generic(evaluator: str, s: dict[str, Any]) -> str:
    return f"- {evaluator}: " + ", ".join(f"{k} = {v}" for k, v in sorted(s.items())) + "."


def _generation(collected: RobustnessCells) -> list[str]:
    """How generated corrupted sets came out: images regenerated, warnings caught."""
    seen: dict[str, dict[str, Any]] = {}
    for _, store in collected.stores:
        for record in store.get("corruption", {}).values():
            gen = record.get("generation")
            if gen:
                seen.setdefault(gen.get("clean_sha256_16", "?"), gen)
    out = []
    for gen in seen.values():
        redone = gen.get("regenerated", {})
        warned = gen.get("warnings", {})
        text = (
            f"- Generated set ({gen.get('generator')}, seed {gen.get('seed')}, {gen.get('images')} images): "
        )
        text += (
            f"{sum(redone.values())} images came out blank or not finite and were regenerated with the "
            f"next seed of their sequence ({', '.join(f'{k}: {v}' for k, v in sorted(redone.items()))})"
            if redone
            else "no blank or non-finite image"
        )
        text += "; imagecorruptions' warnings caught: " + (
            ", ".join(f"{k}: {v}" for k, v in sorted(warned.items())) if warned else "none"
        )
        out.append(text + ".")
    return out


def notes(collected: RobustnessCells) -> list[str]:
    images = sorted({r.get("n") for _, s in collected.stores for r in s.get("clean", {}).values()} - {None})
    step = ", ".join(f"{n:,} images: one image is {100 / n:.3g} points" for n in images)
    out = [
        "- Clean Acc: top-1 (%) of the final checkpoint on the run's test split"
        + (f" ({step})" if step else "")
        + ", not the leaderboard's reducer over epochs. Network: the leaderboard's (the suite's "
        "`report.network`, else the method's); of alternatives (`ema|ema_mix`) the first, chosen before "
        "any test score and never the one that scores better; every network is in the second table. "
        "Mean ± sample std over seeds.",
    ]
    if _settings(collected, "corruption"):
        out.append(
            "- Corruption Acc: pooled top-1 over all 19 corruptions × 5 severities (AdAutoMix's definition); "
            "Corr. Acc 15: mean over the 15 main corruptions × 5 severities (RobustBench's)."
        )
        out += _generation(collected)
    for evaluator in EVALUATORS:
        if evaluator in ("clean", "corruption"):
            continue
        sentence = SENTENCES.get(evaluator)
        for s in _settings(collected, evaluator):
            out.append(sentence(s) if sentence else _generic(evaluator, s))
    if any(cell.values for row in collected.reported.values() for k, cell in row.items() if k == "mce"):
        out.append(
            "- mCE (%): Σ_s E(c,s) / Σ_s E_baseline(c,s) averaged over the 15 main corruptions; baseline "
            "named in the header."
        )
    machines = sorted(
        {
            f"{r.get('machine') or r.get('device')} ({r.get('device')}), commit {str(r.get('git_commit'))[:10]}"
            for _, s in collected.stores
            for r in s.get("clean", {}).values()
        }
    )
    if machines:
        out.append("- Evaluated on: " + "; ".join(machines) + ".")
    return out
