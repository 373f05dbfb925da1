"""An optional disk cache of resized gallery images, for splits whose images are slow to decode.

With `data.resize_cache: 128`, every image of a split is decoded once, resized to 128×128 and
stored in one uint8 array file `[images, 128, 128, 3]` under `$XMR_CACHE/resized/`. Later loads
read one row of a memory map, skipping base64 and image decoding, and the rows stay in the page
cache instead of the process's memory. The training transform resizes to a square anyway, so
the cache only loses detail when its side is smaller than `image.image_size`.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from engine.data.records import ImageStore, RetrievalSplit
from engine.data.tsv_images import cache_root

logger = logging.getLogger(__name__)

_BUILD_CHUNK = 256  # images resized between writes to the array file


class ResizedImageStore:
    """Images of a split read from a memory-mapped uint8 array; ids map to rows by binary search."""

    def __init__(self, path: Path, image_ids: list[int], side: int) -> None:
        self.path = Path(path)  # the array file; also what the feature cache key hashes
        self.side = side
        ids = np.asarray(image_ids, dtype=np.int64)
        self._order = np.argsort(ids, kind="stable")
        self._sorted_ids = ids[self._order]
        self._array: np.memmap | None = None

    def _rows(self) -> np.memmap:
        if self._array is None:
            self._array = np.memmap(self.path, dtype=np.uint8, mode="r").reshape(-1, self.side, self.side, 3)
        return self._array

    def load(self, image_id: int) -> Image.Image:
        """Return the resized image as RGB."""
        slot = int(np.searchsorted(self._sorted_ids, image_id))
        if slot >= len(self._sorted_ids) or self._sorted_ids[slot] != image_id:
            raise KeyError(f"image_id {image_id} is not in the resized-image cache {self.path}")
        return Image.fromarray(np.array(self._rows()[int(self._order[slot])]), mode="RGB")

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_array"] = None  # each DataLoader worker maps the file itself
        return state


def _cache_file(split: RetrievalSplit, side: int) -> Path:
    source = getattr(split.images, "path", None)
    digest = hashlib.sha256(f"{side}".encode())
    if source is not None and Path(source).exists():
        stat = Path(source).stat()
        digest.update(f"{Path(source).resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    digest.update(np.asarray(split.image_ids, dtype=np.int64).tobytes())
    return cache_root() / "resized" / f"{split.name}-{side}px-{digest.hexdigest()[:24]}.u8"


def _build(path: Path, images: ImageStore, image_ids: list[int], side: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".tmp{os.getpid()}")
    array = np.memmap(partial, mode="w+", dtype=np.uint8, shape=(len(image_ids), side, side, 3))
    for start in range(0, len(image_ids), _BUILD_CHUNK):
        for row, image_id in enumerate(image_ids[start:start + _BUILD_CHUNK], start=start):
            resized = images.load(image_id).resize((side, side), Image.Resampling.BICUBIC)
            array[row] = np.asarray(resized, dtype=np.uint8)
        array.flush()  # written pages can then leave memory
    del array
    partial.replace(path)  # atomic, so a concurrent reader never sees half a file


def with_resize_cache(split: RetrievalSplit, side: int) -> RetrievalSplit:
    """Return `split` reading its images from a resized cache of `side` pixels, built on first use."""
    if side <= 0 or not split.image_ids:
        return split
    path = _cache_file(split, side)
    if not path.is_file():
        logger.info("building the %d px resized-image cache of split %s at %s", side, split.name, path)
        _build(path, split.images, split.image_ids, side)
    store = ResizedImageStore(path, split.image_ids, side)
    return RetrievalSplit(split.name, split.texts, split.image_ids, store, split.skipped)
