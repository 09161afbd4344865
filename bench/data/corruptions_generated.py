"""Corrupted test sets generated with imagecorruptions where no release exists (the synthetic set,
the fine-grained sets): the 19 corruptions at 5 severities, in the CIFAR-C `.npy` layout, cached.

Each image gets its own seed from (seed, corruption, severity, index), so the set is the same on
every machine and a partial generation resumes corruption by corruption. Images below 32 px are
reflect-padded to 32 px, corrupted and cropped back (imagecorruptions' minimum size), which keeps
the per-pixel parameters (noise level, blur radius) those of ImageNet-C.

Every corrupted image is checked. imagecorruptions can return an image that is not finite: its
`spatter` divides by the largest value of a liquid layer that, on a small image, may have no pixel
above its threshold (0 / 0), and the cast to uint8 then turns the image black (16 of 1,024
severity-1 images of the 16-px smoke set). An image that is not finite, or blank (one value in
every pixel) where its clean image is not, is drawn again with the next seed of its own sequence
(SeedSequence([seed, corruption, severity, index, attempt])), so the repair is deterministic and
every other image keeps its seed; after MAX_ATTEMPTS draws the set is refused. Every warning the
package raises is caught and counted, and the counts are kept in the set's `source.json` with the
images regenerated, for the report to print.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench import locks, safe_io
from bench.data.base import DataError
from bench.data.corruptions import ALL, SEVERITIES, NpyCorruptions
from bench.progress import progress

GENERATED_LABEL = "generated (ImageNet-C parameters)"
MIN_GENERATED_SIZE = 32  # imagecorruptions refuses smaller images
# Bump when the generated images change (seeding, padding, repair), with the corruption evaluator's
# version in bench/evaluate/config.py: stored results then stop matching. 2: blank images redrawn.
GENERATION_SCHEME = 2
MAX_ATTEMPTS = 10
LOCK_POLL_SECONDS = 5.0
SEEDED = ("glass_blur", "impulse_noise")  # these two take a seed instead of the global RNG


def _import() -> Any:
    try:
        import imagecorruptions
    except ImportError:
        raise DataError(
            "generated corruptions need imagecorruptions: pip install 'mixup-bench[robustness]' "
            "(the maintained fork imagecorruptions-imaug)"
        ) from None
    return imagecorruptions


def _version() -> str:
    import importlib.metadata

    for name in ("imagecorruptions-imaug", "imagecorruptions"):
        try:
            return f"{name} {importlib.metadata.version(name)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return "imagecorruptions unknown"


def generated(images: np.ndarray, labels: np.ndarray, cache: Path, seed: int) -> NpyCorruptions:
    """The 19 × 5 corruptions of `images` (uint8 NCHW), generated once into `cache` and memory-mapped."""
    package = _import()
    version = _version()
    digest = hashlib.sha256(
        str(images.shape).encode() + images.tobytes() + labels.astype(np.int64).tobytes()
    ).hexdigest()[:16]
    folder = cache / f"{digest}-seed{seed}-v{GENERATION_SCHEME}-{version.replace(' ', '_')}"
    safe_io.make_folder(folder)
    with _generation_lock(folder):
        return _generate(package, version, images, labels, folder, seed, digest)


@contextlib.contextmanager
def _generation_lock(folder: Path) -> Iterator[None]:
    """Hold the set's folder lock while generating: evaluations of several runs of one dataset
    (local workers, Slurm tasks) then generate it once, the others waiting to read it."""
    lock = locks.JobLock(folder)
    waited = False
    while not lock.acquire():
        if not waited:
            print(f"waiting for another process generating {folder}", file=sys.stderr, flush=True)
            waited = True
        time.sleep(LOCK_POLL_SECONDS)
    try:
        yield
    finally:
        lock.release()


def _generate(
    package: Any, version: str, images: np.ndarray, labels: np.ndarray, folder: Path, seed: int, digest: str
) -> NpyCorruptions:
    pad = max(0, -(-(MIN_GENERATED_SIZE - min(images.shape[2:])) // 2))  # per side, so both sides reach 32 px
    source = _read_source(folder)
    checks: dict[str, Any] = source.get("checks", {})
    notes = {
        "generator": version,
        "seed": seed,
        "scheme": GENERATION_SCHEME,
        "images": len(images),
        "image_size": list(images.shape[2:]),
        "padding": f"reflect-padded by {pad} px per side to reach 32 px, cropped back after corrupting"
        if pad
        else None,
        "clean_sha256_16": digest,
    }
    if not (folder / "labels.npy").exists():
        labels_dtype = np.uint8 if labels.max() < 256 else np.int64
        _save(folder / "labels.npy", np.tile(labels.astype(labels_dtype), len(SEVERITIES)))
    # A file is done when its checks are recorded (written before it): anything else is redone.
    todo = [name for name in ALL if name not in checks or not (folder / f"{name}.npy").exists()]
    hwc = np.ascontiguousarray(images.transpose(0, 2, 3, 1))
    state = np.random.get_state()  # the package draws from numpy's global RNG: leave it as we found it
    try:
        if todo:
            label = f"generating {len(todo)} corruptions × 5 severities of {len(images)} images"
            with progress(label, total=len(todo) * len(SEVERITIES) * len(images)) as bar:
                for name in todo:
                    array, checks[name] = _corrupt_all(package, hwc, name, seed, pad, bar)
                    safe_io.write_json(folder / "source.json", {**notes, "checks": checks})
                    _save(folder / f"{name}.npy", array)
    finally:
        np.random.set_state(state)
    safe_io.write_json(folder / "source.json", {**notes, "checks": checks})
    return NpyCorruptions(folder, source=GENERATED_LABEL, generated=True, notes={**notes, **_totals(checks)})


def _read_source(folder: Path) -> dict[str, Any]:
    """The set's source.json ({} when absent or unreadable: its files are then checked again)."""

    try:
        data = json.loads((folder / "source.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _totals(checks: dict[str, Any]) -> dict[str, dict[str, int]]:
    """What the report prints: images regenerated per 'corruption/severity', warnings per text."""
    regenerated: Counter[str] = Counter()
    caught: Counter[str] = Counter()
    for name, check in checks.items():
        for severity, count in check.get("regenerated", {}).items():
            regenerated[f"{name}/{severity}"] += count
        for text, count in check.get("warnings", {}).items():
            caught[f"{name}: {text}"] += count
    return {"regenerated": dict(regenerated), "warnings": dict(caught)}


def _corrupt_all(
    package: Any, hwc: np.ndarray, name: str, seed: int, pad: int, bar: Any
) -> tuple[np.ndarray, dict[str, Any]]:
    """Every severity of corruption `name` on every image, and its checks: images regenerated per
    severity and warnings caught."""
    n, h, w, _ = hwc.shape
    number = ALL.index(name)
    out = np.empty((len(SEVERITIES) * n, h, w, 3), dtype=np.uint8)
    regenerated: Counter[str] = Counter()
    caught: Counter[str] = Counter()
    for s in SEVERITIES:
        for i in range(n):
            image = np.pad(hwc[i], ((pad, pad), (pad, pad), (0, 0)), mode="reflect") if pad else hwc[i]
            result, attempts = _checked(package, image, name, s, [seed, number, s, i], caught)
            if attempts:
                regenerated[str(s)] += 1
            out[(s - 1) * n + i] = result[pad : pad + h, pad : pad + w] if pad else result
            bar.advance()
    return out, {"regenerated": dict(regenerated), "warnings": dict(caught)}


def _checked(
    package: Any, image: np.ndarray, name: str, severity: int, entropy: list[int], caught: Counter[str]
) -> tuple[np.ndarray, int]:
    """(the corrupted image, how many draws were redone): drawn again with the next seed while it
    is not finite or comes out blank from an image that is not; DataError after MAX_ATTEMPTS."""
    function = package.corruption_dict[name]
    flat_input = image.min() == image.max()
    for attempt in range(MAX_ATTEMPTS):
        image_seed = int(
            np.random.SeedSequence(entropy + ([attempt] if attempt else [])).generate_state(1)[0]
        )
        np.random.seed(image_seed)
        kwargs = {"seed": image_seed} if name in SEEDED else {}
        with warnings.catch_warnings(record=True) as found:
            warnings.simplefilter("always")
            raw = function(Image.fromarray(image), severity, **kwargs)
            result = np.uint8(raw)  # as imagecorruptions.corrupt casts
        for warning in found:
            caught[f"{warning.category.__name__}: {warning.message}"] += 1
        finite = bool(np.isfinite(np.asarray(raw, dtype=np.float64)).all())
        if finite and (flat_input or result.min() != result.max()):
            return result, attempt
    raise DataError(
        f"imagecorruptions gave a blank or non-finite image for {name} severity {severity} of test image "
        f"{entropy[-1]} with {MAX_ATTEMPTS} seeds in a row; refusing to write a corrupted set with it"
    )


def _save(path: Path, array: np.ndarray) -> None:
    safe_io.atomic_write(path, lambda f: np.save(f, array, allow_pickle=False), mode="wb")
