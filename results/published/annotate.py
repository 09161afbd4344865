"""Add the `reducer` and `network` columns to the published CSVs (run once; kept as the record).

The CSVs are copied verbatim from the reference notes (provenance columns untouched); these two
columns make explicit which statistic and which network each number is, so the leaderboard
compares like with like. The rules, from the sources' own protocol notes:

* OpenMixup CNN tables (CIFAR, Tiny-ImageNet, fine-grained): median of the last 10 epochs;
  ImageNet 100-epoch tables: median of the last 5; ViT tables: best of the last 10;
  "mean of best over 3 runs": mean_best_3runs (no run folder can reproduce that; never compared).
* AutoMix / SAMix / AdAutoMix rows come from the EMA teacher: network "ema|ema_mix" (the larger
  of its two heads) and OpenMixup's find_automix_val_median ("openmixup_automix"), except the
  ViT rows (best of the last 10). Log-derived rows name their network in the metric.
* Anything else (parameter counts, robustness, rows without a stated protocol): "unknown".

Usage: python results/published/annotate.py   (idempotent)
"""

from __future__ import annotations

import csv
from pathlib import Path

HERE = Path(__file__).parent
LEARNED = {"AutoMix", "SAMix", "AdAutoMix"}


def _network(method: str, metric: str) -> str:
    if metric.endswith("_online_q"):
        return "online|online_mix"
    if metric.endswith("_ema_k") or method in LEARNED:
        return "ema|ema_mix"
    return "online"


def annotate_adautomix(row: dict[str, str]) -> tuple[str, str]:
    source, metric, method = row["source"], row["metric"], row["method"]
    if metric not in ("top1", "top1_ema_k", "top1_online_q") or row["value"] in ("", "NOT_RETRIEVED"):
        return "unknown", "unknown"
    vit = "ViT" in source or row["backbone"] in ("Swin-T", "ConvNeXt-T", "DeiT-S")
    if "training log" in source and "best of last 10" in row["notes"]:
        vit = True
    if vit:
        return "best_last10", _network(method, metric)
    if method in LEARNED or metric in ("top1_ema_k", "top1_online_q"):
        return "openmixup_automix", _network(method, metric)
    if row["dataset"] == "ImageNet-1K":
        return ("median_last5" if row["epochs"] == "100" else "median_last10"), "online"
    return "median_last10", "online"


def annotate_openmixup(row: dict[str, str]) -> tuple[str, str]:
    metric, method = row["metric"], row["method"]
    reducer = {
        "top1_median_last10ep": "median_last10",
        "top1_median_last5ep": "median_last5",
        "top1_best_last10ep": "best_last10",
        "top1_mean_of_best_3runs": "mean_best_3runs",
        "top1_median_last5or10ep": "median_last5" if row["epochs"] == "100" else "median_last10",
    }.get(metric, "unknown")
    if reducer != "unknown" and method in LEARNED and reducer.startswith("median"):
        reducer = "openmixup_automix"
    return reducer, _network(method, metric) if reducer != "unknown" else "unknown"


def rewrite(name: str, rule) -> None:
    path = HERE / name
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        fields = [c for c in reader.fieldnames if c not in ("reducer", "network")]
        rows = list(reader)
    for row in rows:
        row["reducer"], row["network"] = rule(row) if rule else ("unknown", "unknown")
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*fields, "reducer", "network"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    rewrite("adautomix_published.csv", annotate_adautomix)
    rewrite("openmixup_benchmarks.csv", annotate_openmixup)
    rewrite("adautomix_table3_robustness.csv", None)
    rewrite("aom_and_robustness.csv", None)
