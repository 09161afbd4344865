"""`reports/perf-<device>-<torch version>.md` and `.csv`: what `bench perf` measured, and where.

The Markdown starts with the conditions (hardware, versions, network, data, batch, steps, load)
and says how the figures were taken; then one row per method, the learned mixers' passes, the
data path, evaluation and the step breakdown. The CSV has one row per figure, each with every
condition, so files from several machines concatenate into one table.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import safe_io
from bench.perf import steps, timing
from bench.perf.breakdown import SMOKE_BACKBONE, SMOKE_DATASET, SMOKE_IMAGE_SIZE, SMOKE_RECIPE, Breakdown

MIB = 2**20
FWD_BWD_TARGET = 0.95
CSV_COLUMNS = (
    "kind",  # step | pass | data | evaluation | breakdown
    "name",  # method, pass, or breakdown range
    "method",
    "status",
    "reason",
    "median_ms",
    "iqr_ms",
    "vs_vanilla",
    "target",
    "within_target",
    "ratio_low",
    "ratio_high",
    "rounds",
    "passes_ms",
    "vs_passes",
    "peak_mib",
    "state_mib",
    "step_peak_mib",
    "images_per_s",
    "share",
    "timed",
)
CONDITION_COLUMNS = (
    "device",
    "hardware",
    "torch",
    "threads",
    "backbone",
    "dataset",
    "image_size",
    "batch_size",
    "precision",
    "channels_last",
    "compile",
    "clock",
    "warmup",
    "steps",
    "max_steps",
    "loadavg_before",
    "loadavg_after",
)


@dataclass
class Perf:
    """Everything one `bench perf` run measured, and under which conditions."""

    conditions: dict[str, Any]  # CONDITION_COLUMNS
    hardware: dict[str, Any]  # timing.hardware()
    rows: list[steps.MethodRow]
    data: timing.Summary  # images per second
    data_batches: tuple[int, int, int]  # warm-up batches, batches per block, blocks
    evaluation: timing.Summary  # images per second
    eval_batches: tuple[int, int, int]  # batches per pass, warm-up passes, timed passes
    breakdown: Breakdown | None  # None off the CPU

    def stem(self) -> str:
        return f"perf-{self.conditions['device']}-{self.conditions['torch']}"


def ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{1000 * seconds:.1f}"


def ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def mib(value: int | None) -> str:
    return "—" if value is None else f"{value / MIB:.0f}"


def verdict(row: steps.MethodRow) -> str:
    """'yes', '**no**' or 'unresolved' with the rounds it took ('yes (6)'); '—' without a target."""
    if row.within is None or row.estimate is None:
        return "—"
    shown = "**no**" if row.within == "no" else row.within
    return f"{shown} ({row.estimate.rounds})"


def interval(estimate: timing.RatioEstimate | None) -> str:
    """'1.03 [1.01, 1.06]': the median per-round ratio and its 95% interval."""
    if estimate is None:
        return "—"
    if estimate.low is None or estimate.high is None:
        return f"{estimate.ratio:.2f} [too few rounds]"
    return f"{estimate.ratio:.2f} [{estimate.low:.2f}, {estimate.high:.2f}]"


def target_text(row: steps.MethodRow) -> str:
    if row.target is not None and row.target_over == "passes":
        return f"≤ {row.target:.2f} × passes"
    return "—" if row.target is None else f"≤ {row.target:.2f}"


def _threads(n: int) -> str:
    return f"{n} torch thread{'s' if n != 1 else ''}"


def _clock(c: dict[str, Any]) -> str:
    if c["device"] == "cuda":
        return "CUDA events, elapsed device time"
    if c["clock"] == "process":
        return (
            "time.process_time: this process's CPU time, not the wall time (for a CPU shared with other work)"
        )
    return "time.perf_counter, wall time"


def markdown(perf: Perf) -> str:
    c, hw = perf.conditions, perf.hardware
    device = hw.get("gpu", hw["cpu"])
    warm, count, blocks = perf.data_batches
    eval_batches, eval_warm, eval_passes = perf.eval_batches
    lines = [
        f"# Step cost of every method: {c['device']}, torch {c['torch']}",
        "",
        "Written by `bench perf`; rerun it to refresh this file.",
        "",
        f"- **Hardware**: {device}"
        + (f" (host: {hw['cpu']})" if "gpu" in hw else "")
        + f"; {hw['logical_cores']} logical cores, {hw['usable_cores']} usable; {_threads(hw['torch_threads'])}"
        + (" (as each job of the local executor gets here)" if c["device"] == "cpu" else ""),
        f"- **Software**: torch {hw['torch']}, Python {hw['python']}",
        f"- **Network and data**: {c['backbone']} on {c['dataset']} at {c['image_size']} px, batch {c['batch_size']}; "
        f"{c['precision']}, {'channels_last' if c['channels_last'] else 'contiguous'}, "
        f"{'torch.compile' if c['compile'] else 'eager'}",
        f"- **Timing**: per method {c['warmup']} warm-up + {c['steps']} timed steps, all methods interleaved "
        f"round by round, then more rounds (up to {c.get('max_steps', c['steps'])}) of vanilla and of every "
        "method whose target is not yet decided; median (and interquartile range) of the timed steps. "
        f"Timings exclude warm-up and compilation. {_clock(c)}.",
        f"- **Load average** (1, 5, 15 min): {c['loadavg_before']} before, {c['loadavg_after']} after",
        "",
        "A step is what the training loop runs per batch (`Trainer.step`: the method's loss, backward, "
        "optimizer step, EMA update), on one augmented batch, without data loading. **× vanilla** is the "
        "median over rounds of its step over vanilla's step in the same round, with a distribution-free "
        "95% interval (order statistics; none below 6 rounds); for AutoMix and AdAutoMix **× passes** is "
        "the same over the sum of the passes it cannot avoid (each timed alone, below): 1.00 would mean no "
        "overhead at all. **within** is yes or **no** only when the interval lies under or above the "
        "target, with the rounds it took; otherwise unresolved: the machine's noise cannot tell. "
        "**Peak memory** is the tensor memory of the method's training state (parameters, gradients, "
        "buffers, optimizer state, the method's own networks) plus the most a step allocates beyond it "
        f"({'torch.cuda.max_memory_allocated' if c['device'] == 'cuda' else 'from the torch profiler’s allocation events'}); "
        "the batch itself is not counted.",
        "",
        "| method | step (ms) | IQR (ms) | × vanilla | × passes | target | within | peak memory (MiB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in perf.rows:
        if r.status != "ok":
            lines.append(
                f"| {r.method} | {r.status}: {r.reason.replace('|', '/')} | | | | {target_text(r)} | | |"
            )
            continue
        step = r.step
        lines.append(
            f"| {r.method} | {ms(step.median if step else None)} | {ms(step.iqr if step else None)} | "
            f"{interval(r.over_vanilla)} | {interval(r.over_passes)} | {target_text(r)} | {verdict(r)} | {mib(r.peak_bytes)} |"
        )
    lines += _passes_table(perf)
    lines += [
        "",
        "## Throughput",
        "",
        f"- **Data path** (the training loader: in-memory augmented batches on the {c['device']}): "
        f"**{perf.data.median:,.0f} images/s** (IQR {perf.data.iqr:,.0f}; median of {blocks} blocks of "
        f"{count} batches after {warm} untimed)",
        f"- **Evaluation** (inference: top-1 over the first batches of the test split, eval mode, no gradients): "
        f"**{perf.evaluation.median:,.0f} images/s** (IQR {perf.evaluation.iqr:,.0f}; {eval_passes} timed "
        f"passes over {eval_batches} batches after {eval_warm} untimed)",
    ]
    lines += _breakdown_section(perf)
    return "\n".join(lines) + "\n"


def _passes_table(perf: Perf) -> list[str]:
    """The unavoidable passes of the methods that name them, each timed alone."""
    lines: list[str] = []
    learned = [r for r in perf.rows if r.passes]
    if learned:
        lines += ["", "Unavoidable passes of the learned mixers, each timed alone (ms, median):", ""]
        lines += ["| method | pass | ms | × vanilla step |", "|---|---|---|---|"]
        vanilla = next((r.step.median for r in perf.rows if r.method == "vanilla" and r.step), None)
        for r in learned:
            for label, s in r.passes.items():
                share = ratio(s.median / vanilla) if vanilla else "—"
                lines.append(f"| {r.method} | {label} | {ms(s.median)} | {share} |")
            lines.append(
                f"| {r.method} | **sum of passes** | {ms(r.passes_seconds)} | "
                f"{ratio(r.passes_seconds / vanilla) if vanilla else '—'} |"
            )
    return lines


def _breakdown_section(perf: Perf) -> list[str]:
    """Where a vanilla step's time goes, by the profiler's ranges (CPU only)."""
    lines: list[str] = []
    b = perf.breakdown
    smoke = (
        f"{SMOKE_BACKBONE}, {SMOKE_DATASET} at {SMOKE_IMAGE_SIZE} px, batch {SMOKE_RECIPE.batch_size}, SGD: "
        "the smoke suite's settings"
    )
    lines += ["", "## Where a vanilla step's time goes", ""]
    if b is None:
        lines.append(
            "Measured on the CPU only: torch profiler ranges time the host, which runs ahead of a GPU."
        )
    else:
        share = b.share("forward", "backward")
        meets = "meets" if share >= FWD_BWD_TARGET else "**misses**"
        parts = ", ".join(f"{name} {100 * s / b.total:.1f}%" for name, s in b.seconds.items())
        lines += [
            f"forward+backward share of a vanilla step: **{100 * share:.1f}%** ({meets} the target of "
            f"{100 * FWD_BWD_TARGET:.0f}%)",
            "",
            f"{smoke}, {_threads(b.threads)}; the training loop (`Trainer.epoch`) with its own loader, "
            f"{b.steps} steps after warm-up, under the torch profiler: {parts}. Forward is the method's loss "
            f"(the model's forward and the cross-entropy); optimizer is the learning-rate schedule, zeroing "
            f"the gradients and the update; other is the loop itself and the profiler's bookkeeping. The "
            f"steps took {b.total:.2f} s under the profiler and {b.plain:.2f} s without it.",
        ]
    return lines


def csv_text(perf: Perf) -> str:
    hw = perf.hardware
    conditions = {**perf.conditions, "hardware": hw.get("gpu", hw["cpu"]), "threads": hw["torch_threads"]}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*CSV_COLUMNS, *CONDITION_COLUMNS], lineterminator="\n")
    writer.writeheader()

    def row(**values: Any) -> None:
        writer.writerow({**{k: "" for k in CSV_COLUMNS}, **values, **conditions})

    def milli(s: float | None) -> str:
        return "" if s is None else f"{1000 * s:.3f}"

    def mebi(b: int | None) -> str:
        return "" if b is None else f"{b / MIB:.1f}"

    def num(v: float | None) -> str:
        return "" if v is None else f"{v:.4f}"

    for r in perf.rows:
        row(
            kind="step",
            name=r.method,
            method=r.method,
            status=r.status,
            reason=r.reason,
            median_ms=milli(r.step.median if r.step else None),
            iqr_ms=milli(r.step.iqr if r.step else None),
            vs_vanilla=num(r.vs_vanilla),
            target=num(r.target),
            within_target=r.within or "",
            ratio_low=num(r.estimate.low if r.estimate else None),
            ratio_high=num(r.estimate.high if r.estimate else None),
            rounds=r.estimate.rounds if r.estimate else "",
            passes_ms=milli(r.passes_seconds),
            vs_passes=num(r.vs_passes),
            peak_mib=mebi(r.peak_bytes),
            state_mib=mebi(r.state_bytes),
            step_peak_mib=mebi(r.step_peak_bytes),
            timed=r.step.n if r.step else "",
        )
        for label, s in r.passes.items():
            row(
                kind="pass",
                name=label,
                method=r.method,
                status="ok",
                median_ms=milli(s.median),
                iqr_ms=milli(s.iqr),
                timed=s.n,
            )
    for kind, s in (("data", perf.data), ("evaluation", perf.evaluation)):
        row(kind=kind, name=kind, status="ok", images_per_s=f"{s.median:.1f}", timed=s.n)
    if perf.breakdown is not None:
        b = perf.breakdown
        for name, seconds in b.seconds.items():
            row(
                kind="breakdown",
                name=name,
                method="vanilla",
                status="ok",
                share=f"{seconds / b.total:.4f}",
                timed=b.steps,
            )
        row(
            kind="breakdown",
            name="forward+backward",
            method="vanilla",
            status="ok",
            share=f"{b.share('forward', 'backward'):.4f}",
            target=num(FWD_BWD_TARGET),
            within_target=str(b.share("forward", "backward") >= FWD_BWD_TARGET).lower(),
            timed=b.steps,
        )
    return out.getvalue()


def write(perf: Perf, folder: Path, stem: str | None = None) -> tuple[Path, Path]:
    """Write both files atomically; returns their paths."""
    stem = stem or perf.stem()
    md, csv_path = folder / f"{stem}.md", folder / f"{stem}.csv"
    safe_io.write_text(md, markdown(perf))
    safe_io.write_text(csv_path, csv_text(perf))
    return md, csv_path
