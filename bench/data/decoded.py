"""Decode a FileIndex of same-size images into an ImageSet once, and cache the result.

Tiny-ImageNet's 110,000 JPEGs take a while to decode on every job; the decoded uint8 arrays take
a second to load. The cache file is keyed by the source files (relative path, size and
modification time of every image, their labels and class list), so editing, adding or removing
an image gives a new key and the stale file is simply not used. It is written atomically and
only after every image decoded, so nothing partially loaded is ever cached.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from bench import safe_io
from bench.data.base import DataError, FileIndex, ImageSet
from bench.runtime import usable_cores

CACHE_FORMAT = 1  # bump when what is stored, or how images are decoded, changes


def decode_all(index: FileIndex, threads: int | None = None) -> ImageSet:
    """Every image of `index`, which must all have the size of the first, as one uint8 tensor."""
    if len(index) == 0:
        return ImageSet(torch.empty(0, 3, 0, 0, dtype=torch.uint8), index.labels, index.classes)
    first = np.asarray(index.pil(0))
    h, w = first.shape[:2]
    out = torch.empty(len(index), 3, h, w, dtype=torch.uint8)

    def decode(i: int) -> None:
        pixels = np.array(index.pil(i))
        if pixels.shape[:2] != (h, w):
            raise DataError(
                f"{index.path(i)}: {pixels.shape[1]}x{pixels.shape[0]} pixels, but this dataset's images are "
                f"{w}x{h} (like {index.path(0).name})"
            )
        out[i] = torch.from_numpy(pixels).permute(2, 0, 1)

    # PIL releases the GIL while decoding, so threads decode in parallel without copying data.
    workers = threads or min(8, usable_cores())
    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(decode, range(len(index)), chunksize=256):
            pass
    return ImageSet(out, index.labels, index.classes)


def source_key(index: FileIndex, name: str, split: str) -> str:
    """A hash of everything the decoded arrays depend on."""
    h = hashlib.sha256(f"{CACHE_FORMAT}\n{name}\n{split}\n{index.root.resolve()}\n".encode())
    h.update("\n".join(index.classes).encode())
    h.update(index.labels.numpy().tobytes())
    for i in range(len(index)):
        stat = index.path(i).stat()
        h.update(b"%s %d %d\n" % (index.paths[i], stat.st_size, stat.st_mtime_ns))
    return h.hexdigest()


def cached(index: FileIndex, cache_dir: Path | None, name: str, split: str) -> ImageSet:
    """`decode_all(index)`, from `cache_dir` when a cache of these exact source files is there."""
    if cache_dir is None:
        return decode_all(index)
    key = source_key(index, name, split)
    path = cache_dir / f"{name}-{split}-{key[:20]}.pt"
    if path.exists():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            if state["key"] == key:
                return ImageSet(state["images"], state["labels"], list(state["classes"]))
        except Exception:  # unreadable or foreign: decode again and overwrite it
            pass
    data = decode_all(index)
    state = {"key": key, "images": data.images, "labels": data.labels, "classes": data.classes}
    safe_io.atomic_write(path, lambda f: torch.save(state, f), mode="wb")
    return data
