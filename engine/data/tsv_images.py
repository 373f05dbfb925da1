"""An `{split}_imgs.tsv` gallery read by byte offset, with its index cached on disk.

The first open scans the file once for the image id, byte offset and line number of every row.
It saves them as int64 arrays under `$XMR_CACHE/tsv-index/`, keyed by the file's resolved path
and invalidated when its size or mtime changes. Later opens load the arrays instead of
rescanning. Checking that every image decodes (`validate_images`) streams the file in chunks
of rows, optionally across a process pool, and its result is cached in the same file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from array import array
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image

from engine.data.images import decode_base64_image
from engine.data.problems import ProblemKind, ProblemLog
from engine.data.records import DatasetError

logger = logging.getLogger(__name__)

_UTF8_BOM = b"\xef\xbb\xbf"
_INDEX_FORMAT = 1  # bumped when the cached arrays change meaning
CHUNK_ROWS = 512  # rows one decoding task reads; bounds the memory of each task


def cache_root() -> Path:
    """Return `$XMR_CACHE` (default `~/.cache/xmr`)."""
    return Path(os.environ.get("XMR_CACHE", Path.home() / ".cache" / "xmr")).expanduser()


@dataclass
class TsvIndex:
    """Byte offsets of a tsv's images, as parallel int64 arrays in file order."""

    ids: np.ndarray  # image ids
    offsets: np.ndarray  # byte offset of each row
    lines: np.ndarray  # 1-based line number of each row, for messages
    scan_problems: ProblemLog  # malformed rows and duplicate ids, which are left out of the arrays
    bad_rows: np.ndarray | None = None  # rows whose image failed to decode; None until validated
    decode_problems: ProblemLog | None = None

    def __len__(self) -> int:
        return len(self.ids)


# --- scanning and the index cache -----------------------------------------------------------


def scan_tsv(path: Path) -> TsvIndex:
    """Read every row's id and offset without decoding images; bad rows go to `scan_problems`."""
    problems = ProblemLog()
    # array('q') stores 8 bytes a row, where a list of Python ints costs about 36.
    ids, offsets, lines = array("q"), array("q"), array("q")
    position = 0
    with open(path, "rb") as rows:
        for line_number, row in enumerate(rows, start=1):
            start, position = position, position + len(row)
            if not row.strip():
                continue
            image_id = _parse_image_id(row, path, line_number, problems)
            if image_id is None:
                continue
            ids.append(image_id)
            offsets.append(start)
            lines.append(line_number)
    index = TsvIndex(_int64(ids), _int64(offsets), _int64(lines), problems)
    return _drop_duplicate_ids(index, path)


def _drop_duplicate_ids(index: TsvIndex, path: Path) -> TsvIndex:
    """Keep the first row of each image id and report the later ones, in line order."""
    _, first_rows = np.unique(index.ids, return_index=True)
    if len(first_rows) == len(index.ids):
        return index
    keep = np.zeros(len(index.ids), dtype=bool)
    keep[first_rows] = True
    for row in np.flatnonzero(~keep):
        index.scan_problems.add(ProblemKind.duplicate_image_id, path, int(index.lines[row]),
                                f"duplicate image_id {int(index.ids[row])}; each image must appear once per split")
    return TsvIndex(index.ids[keep], index.offsets[keep], index.lines[keep], index.scan_problems)


def _int64(values: Iterable[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def _parse_image_id(row: bytes, path: Path, line_number: int, problems: ProblemLog) -> int | None:
    if row.startswith(_UTF8_BOM):
        row = row[len(_UTF8_BOM):]
    head, tab, _ = row.partition(b"\t")
    if not tab:
        problems.add(ProblemKind.malformed_line, path, line_number,
                     "expected 'image_id<TAB>base64 image', found no tab")
        return None
    try:
        return int(head)
    except ValueError:
        problems.add(ProblemKind.malformed_line, path, line_number,
                     f"image_id must be an integer, got {head[:40]!r}")
        return None


def _cache_path(path: Path) -> Path:
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
    return cache_root() / "tsv-index" / f"{path.name}-{digest}.npz"


def _signature(path: Path) -> np.ndarray:
    stat = path.stat()
    return _int64([_INDEX_FORMAT, stat.st_size, stat.st_mtime_ns])


def load_index(path: Path) -> TsvIndex:
    """Return the tsv's index from the cache, scanning the file when the cache is absent or stale."""
    cached = _read_cached_index(path)
    if cached is not None:
        return cached
    index = scan_tsv(path)
    save_index(path, index)
    return index


def _read_cached_index(path: Path) -> TsvIndex | None:
    cache = _cache_path(path)
    if not cache.is_file():
        return None
    try:
        with np.load(cache, allow_pickle=False) as stored:
            if not np.array_equal(stored["signature"], _signature(path)):
                return None
            index = TsvIndex(stored["ids"], stored["offsets"], stored["lines"],
                             ProblemLog.from_json(json.loads(str(stored["scan_problems"]))))
            if "bad_rows" in stored:
                index.bad_rows = stored["bad_rows"]
                index.decode_problems = ProblemLog.from_json(json.loads(str(stored["decode_problems"])))
    except (OSError, ValueError, KeyError) as error:
        logger.warning("ignoring unreadable tsv index %s (%s); rescanning %s", cache, error, path)
        return None
    logger.debug("tsv index of %s loaded from %s", path, cache)
    return index


def save_index(path: Path, index: TsvIndex) -> None:
    """Write the index beside the others in the cache; a failure only costs a rescan next time."""
    cache = _cache_path(path)
    arrays: dict[str, Any] = {
        "signature": _signature(path), "ids": index.ids, "offsets": index.offsets, "lines": index.lines,
        "scan_problems": np.asarray(json.dumps(index.scan_problems.to_json())),
    }
    if index.bad_rows is not None and index.decode_problems is not None:
        arrays["bad_rows"] = index.bad_rows
        arrays["decode_problems"] = np.asarray(json.dumps(index.decode_problems.to_json()))
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(f".tmp{os.getpid()}.npz")
        np.savez(partial, **arrays)
        partial.replace(cache)  # atomic, so a concurrent reader never sees half a file
    except OSError as error:
        logger.warning("could not write the tsv index %s (%s); the next open rescans %s", cache, error, path)


# --- checking that every image decodes ------------------------------------------------------


def validate_images(path: Path, index: TsvIndex, workers: int = 0) -> TsvIndex:
    """Decode every image once, fill `bad_rows` and `decode_problems`, and cache the result.

    Rows are decoded in chunks of `CHUNK_ROWS`, and each task reads its own rows from the file.
    At most two tasks per worker are in flight, so memory does not grow with the file.
    """
    if index.bad_rows is not None:
        return index
    problems = ProblemLog()
    bad: list[int] = []
    for chunk_bad, chunk_problems in _decode_chunks(path, index, workers):
        bad.extend(chunk_bad)
        problems.extend(chunk_problems)
    index.bad_rows = _int64(sorted(bad))
    index.decode_problems = problems
    save_index(path, index)
    return index


def _chunk_ranges(count: int) -> Iterator[tuple[int, int]]:
    for start in range(0, count, CHUNK_ROWS):
        yield start, min(start + CHUNK_ROWS, count)


def _decode_chunks(path: Path, index: TsvIndex, workers: int) -> Iterator[tuple[list[int], ProblemLog]]:
    # A generator, so each task's list of line numbers exists only while the task is pending.
    tasks = ((str(path), int(index.offsets[a]), index.lines[a:b].tolist(), a) for a, b in _chunk_ranges(len(index)))
    if workers <= 0:
        for task in tasks:
            yield decode_chunk(*task)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: list[Future] = []
        for task in tasks:
            pending.append(pool.submit(decode_chunk, *task))
            if len(pending) >= 2 * workers:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


def decode_chunk(path: str, offset: int, lines: list[int], first_row: int) -> tuple[list[int], ProblemLog]:
    """Decode consecutive valid rows starting at byte `offset`; return the bad rows and their problems.

    `lines` are the line numbers of those rows, so malformed and blank lines between them, which
    the index left out, are skipped by line number.
    """
    problems = ProblemLog()
    bad = []
    with open(path, "rb") as rows:
        rows.seek(offset)
        line_number = lines[0]
        for position, wanted in enumerate(lines):
            row = _read_line(rows, line_number, wanted)
            line_number = wanted + 1
            image_id, _, encoded = row.removeprefix(_UTF8_BOM).partition(b"\t")
            try:
                decode_base64_image(encoded, f"image_id {int(image_id)}")
            except DatasetError as error:
                bad.append(first_row + position)
                problems.add(ProblemKind.bad_image, path, wanted, str(error))
    return bad, problems


def _read_line(rows: BinaryIO, current: int, wanted: int) -> bytes:
    for _ in range(wanted - current):
        rows.readline()
    return rows.readline()


class TsvImageStore:
    """A tsv gallery decoded one image at a time.

    Only the path and the index arrays are pickled, so every DataLoader worker opens its own
    file handle on first use instead of sharing one file position across processes.
    """

    def __init__(self, path: Path, index: TsvIndex) -> None:
        self.path = Path(path)
        self.index = index
        # Ids sorted once, so a lookup is a binary search instead of a dict of 100k+ Python ints.
        self._order = np.argsort(index.ids, kind="stable")
        self._sorted_ids = index.ids[self._order]
        self._file: BinaryIO | None = None

    @classmethod
    def open(cls, path: Path) -> TsvImageStore:
        """Index the tsv (from the cache when it is current) without decoding any image."""
        return cls(path, load_index(Path(path)))

    def row_of(self, image_id: int) -> int | None:
        """Return the row of `image_id` in file order, or None when the gallery lacks it."""
        slot = int(np.searchsorted(self._sorted_ids, image_id))
        if slot < len(self._sorted_ids) and self._sorted_ids[slot] == image_id:
            return int(self._order[slot])
        return None

    def __contains__(self, image_id: int) -> bool:
        return self.row_of(image_id) is not None

    def load(self, image_id: int) -> Image.Image:
        """Decode one image as RGB, compositing any transparency onto white."""
        row = self.row_of(image_id)
        if row is None:
            raise KeyError(f"image_id {image_id} is not in {self.path}")
        if self._file is None:
            self._file = open(self.path, "rb")
        self._file.seek(int(self.index.offsets[row]))
        encoded = self._file.readline().split(b"\t", 1)[1]
        return decode_base64_image(encoded, f"{self.path}:{int(self.index.lines[row])} image_id {image_id}")

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "index": self.index, "_order": self._order, "_sorted_ids": self._sorted_ids}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._file = None

    def __del__(self) -> None:
        if getattr(self, "_file", None) is not None:
            self._file.close()
