"""The LMDB form of the Chinese-CLIP layout, read with the optional `lmdb` package.

Chinese-CLIP's `cn_clip/preprocess/build_lmdb_dataset.py` (cn-clip 1.6.0) converts a split into
two LMDB environments under `lmdb/{split}/`:

    imgs    key: the image id as decimal ASCII; value: the image's base64 text (URL-safe alphabet).
            The extra key `num_images` contains the count as decimal ASCII.
    pairs   key: the pair index 0, 1, … as decimal ASCII; value: a pickled tuple
            (image_id, text_id, text), one per image a text lists. The extra key `num_samples`
            contains the count. Texts without image ids are therefore absent.

Pair values are unpickled with globals forbidden, so a crafted file cannot run code: a tuple of
ints and a str needs none.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from engine.data.images import decode_base64_image
from engine.data.problems import ProblemKind, ProblemLog
from engine.data.records import DatasetError, TextRecord

logger = logging.getLogger(__name__)

_COUNT_KEYS = (b"num_images", b"num_samples")


def import_lmdb() -> Any:
    """Return the `lmdb` module, or raise DatasetError saying how to install it."""
    try:
        import lmdb
    except ImportError:
        raise DatasetError(
            "this dataset is in Chinese-CLIP's LMDB form, which needs the lmdb package; "
            "install it with `pip install 'xmr[lmdb]'` (or `pip install lmdb`)"
        ) from None
    return lmdb


# lmdb refuses to open one environment twice in a process, so handles are shared per process.
# The pid is part of the key because a forked DataLoader worker must not use its parent's handle.
_ENVIRONMENTS: dict[tuple[int, str], Any] = {}


def _open_env(path: Path) -> Any:
    if not path.is_dir():
        raise DatasetError(f"{path} not found; Chinese-CLIP LMDB splits have lmdb/{{split}}/imgs and pairs")
    key = (os.getpid(), str(path.resolve()))
    if key not in _ENVIRONMENTS:
        # Read-only without locks, as for any file the process does not write.
        _ENVIRONMENTS[key] = import_lmdb().open(str(path), readonly=True, lock=False, readahead=False,
                                                create=False)
    return _ENVIRONMENTS[key]


class _NoGlobalsUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from an LMDB pair")


def _unpickle_pair(value: bytes) -> tuple[Any, ...]:
    return _NoGlobalsUnpickler(io.BytesIO(value)).load()


class LmdbImageStore:
    """The `imgs` environment of one split; each process opens its own read-only handle."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._env: Any = None
        self._bad: set[int] = set()

    def _environment(self) -> Any:
        if self._env is None:
            self._env = _open_env(self.path)
        return self._env

    def ids(self) -> list[int]:
        """Return every image id, in key order; keys that are not integers are logged and skipped."""
        found = []
        with self._environment().begin() as txn:
            for key in txn.cursor().iternext(keys=True, values=False):
                if bytes(key) in _COUNT_KEYS:
                    continue
                try:
                    found.append(int(bytes(key)))
                except ValueError:
                    logger.warning("%s: skipping key %r, which is not an image id", self.path, bytes(key)[:40])
        return sorted(found)  # keys sort as text ("10" before "9"), ids as numbers

    def valid_ids(self) -> list[int]:
        """Return the ids of images that `validate` did not find undecodable."""
        return [image_id for image_id in self.ids() if image_id not in self._bad]

    def validate(self, problems: ProblemLog, workers: int = 0) -> None:
        """Decode every image once and add the undecodable ones to `problems`.

        The line of an LMDB problem is the image's position in key order, since LMDB has no lines.
        """
        # TODO: `workers` is accepted for symmetry with the tsv check, but decoding runs serially.
        with self._environment().begin() as txn:
            for position, image_id in enumerate(self.ids(), start=1):
                try:
                    decode_base64_image(bytes(txn.get(str(image_id).encode())), "")
                except DatasetError as error:
                    self._bad.add(image_id)
                    problems.add(ProblemKind.bad_image, self.path, position,
                                 f"image_id {image_id}{error}")  # error starts with ": "

    def load(self, image_id: int) -> Image.Image:
        """Decode one image as RGB."""
        with self._environment().begin() as txn:
            value = txn.get(str(image_id).encode())
        if value is None:
            raise KeyError(f"image_id {image_id} is not in {self.path}")
        return decode_base64_image(bytes(value), f"{self.path} image_id {image_id}")

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "_bad": self._bad}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._env = None


def read_lmdb_texts(
    path: Path, problems: ProblemLog, has_image: Callable[[int], bool], require_images: bool
) -> list[TextRecord]:
    """Group the pairs of a `pairs` environment back into texts with their image ids.

    Problems are located by pair index, reported as line index + 1.
    """
    texts: dict[int, str] = {}
    images: dict[int, list[int]] = {}
    first_pair: dict[int, int] = {}
    with _open_env(path).begin() as txn:
        for line, value in _pairs_in_order(txn, path, problems):
            pair = _parse_pair(value, path, line, problems)
            if pair is None:
                continue
            image_id, text_id, text = pair
            texts.setdefault(text_id, text)
            first_pair.setdefault(text_id, line)
            if has_image(image_id):
                images.setdefault(text_id, []).append(image_id)
            else:
                problems.add(ProblemKind.missing_image, path, line,
                             f"text_id {text_id} lists image_id {image_id}, which is not in the gallery")
    return _texts_from_pairs(texts, images, first_pair, path, problems, require_images)


def _pairs_in_order(txn: Any, path: Path, problems: ProblemLog) -> Iterator[tuple[int, bytes]]:
    """Yield (pair index + 1, value) in index order; keys sort as text, so "10" precedes "9"."""
    count = txn.get(b"num_samples")
    try:
        total = int(bytes(count))
    except (TypeError, ValueError):
        raise DatasetError(f"{path}: key num_samples is missing or not a number; rebuild the LMDB") from None
    for index in range(total):
        value = txn.get(str(index).encode())
        if value is None:
            problems.add(ProblemKind.malformed_line, path, index + 1, f"pair {index} is missing")
            continue
        yield index + 1, bytes(value)


def _parse_pair(value: bytes, path: Path, line: int, problems: ProblemLog) -> tuple[int, int, str] | None:
    try:
        pair = _unpickle_pair(value)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as error:
        problems.add(ProblemKind.malformed_line, path, line, f"unreadable pair ({error})")
        return None
    valid = (isinstance(pair, tuple) and len(pair) == 3 and isinstance(pair[0], int)
             and isinstance(pair[1], int) and isinstance(pair[2], str))
    if not valid:
        problems.add(ProblemKind.malformed_line, path, line,
                     f"expected a pair (image_id, text_id, text), got {str(pair)[:60]}")
        return None
    if not pair[2].strip():
        problems.add(ProblemKind.empty_caption, path, line, f"text_id {pair[1]} has an empty caption")
        return None
    return pair


def _texts_from_pairs(
    texts: dict[int, str],
    images: dict[int, list[int]],
    first_pair: dict[int, int],
    path: Path,
    problems: ProblemLog,
    require_images: bool,
) -> list[TextRecord]:
    records = []
    for text_id, text in texts.items():
        image_ids = tuple(images.get(text_id, ()))
        if require_images and not image_ids:
            problems.add(ProblemKind.text_without_images, path, first_pair[text_id],
                         f"text_id {text_id} has no image in the gallery; a training text needs one")
            continue
        records.append(TextRecord(text_id, text, image_ids))
    return records


def write_lmdb_split(root: Path, split: str, texts: list[TextRecord], images: list[tuple[int, bytes]]) -> Path:
    """Write a split in the same LMDB form as Chinese-CLIP's converter; returns `lmdb/{split}`."""
    lmdb = import_lmdb()
    folder = Path(root) / "lmdb" / split
    folder.mkdir(parents=True, exist_ok=True)
    size = 64 * 2**20 + 2 * sum(len(data) for _, data in images)
    with lmdb.open(str(folder / "imgs"), map_size=size) as env, env.begin(write=True) as txn:
        for image_id, data in images:
            txn.put(str(image_id).encode(), base64.urlsafe_b64encode(data))
        txn.put(b"num_images", str(len(images)).encode())
    pairs = [(image_id, t.text_id, t.text) for t in texts for image_id in t.image_ids]
    with lmdb.open(str(folder / "pairs"), map_size=64 * 2**20) as env, env.begin(write=True) as txn:
        for position, pair in enumerate(pairs):
            txn.put(str(position).encode(), pickle.dumps(pair))
        txn.put(b"num_samples", str(len(pairs)).encode())
    return folder
