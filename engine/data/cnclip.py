"""Reader and writer for the Chinese-CLIP dataset layout (Flickr30K-CN, COCO-CN, MUGE, emoji-zh).

A split named `valid` is stored as two files in the dataset folder:

    valid_texts.jsonl   one JSON object a line: {"text_id": 1, "text": "...", "image_ids": [7, 9]}
    valid_imgs.tsv      one image a line: image_id, a tab, then the image file bytes in base64

or, where the images were converted with Chinese-CLIP's `build_lmdb_dataset.py`, as
`lmdb/valid/imgs` instead of the tsv (see `engine.data.lmdb_images`). The tsv is preferred when
both exist.

Reading the texts is eager. The gallery is indexed by byte offset (cached on disk), and each
image is decoded on demand by `RetrievalSplit.load_image`. Every bad row is collected in a
`ProblemLog`; the split is rejected when there are any, unless `skip_bad` leaves them out.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.problems import ProblemKind, ProblemLog
from engine.data.records import DatasetError, ImageStore, RetrievalSplit, TextRecord
from engine.data.tsv_images import TsvImageStore, validate_images
from engine.messages import N_, _

logger = logging.getLogger(__name__)

_UTF8_BOM = b"\xef\xbb\xbf"
SKIP_BAD_HINT = N_("run `xmr data check` for every location, fix the rows, or pass --skip-bad to leave them out")


def texts_path(root: Path, split: str) -> Path:
    """Return the path of a split's caption file."""
    return Path(root) / f"{split}_texts.jsonl"


def images_path(root: Path, split: str) -> Path:
    """Return the path of a split's image gallery file."""
    return Path(root) / f"{split}_imgs.tsv"


def lmdb_path(root: Path, split: str) -> Path:
    """Return the folder of a split's LMDB databases (`imgs` and `pairs`)."""
    return Path(root) / "lmdb" / split


def list_splits(root: Path) -> list[str]:
    """Return the splits that have a caption file or an LMDB folder, in name order."""
    root = Path(root)
    names = {path.name[: -len("_texts.jsonl")] for path in root.glob("*_texts.jsonl")}
    if (root / "lmdb").is_dir():
        names.update(path.name for path in (root / "lmdb").iterdir() if (path / "imgs").is_dir())
    return sorted(names)


def load_split(
    root: Path,
    split: str,
    *,
    skip_bad: bool = False,
    check_images: bool = False,
    require_images: bool = False,
    workers: int = 0,
    problems: ProblemLog | None = None,
) -> RetrievalSplit:
    """Read one split; images stay on disk until `RetrievalSplit.load_image` decodes them.

    `check_images` decodes every image once (cached until the tsv changes) so undecodable ones
    are found before training. `require_images` makes a text without images an error, as it
    is in a training split. Problems are added to `problems` when given; the split is rejected
    with a DatasetError when there are any, unless `skip_bad` is set.
    """
    root = Path(root)
    if not (lmdb_path(root, split) / "pairs").is_dir():
        _require_file(texts_path(root, split))
    found = ProblemLog() if problems is None else problems
    images, image_ids = _open_gallery(root, split, found, check_images, workers)
    texts = _load_texts(root, split, found, _membership(image_ids), require_images)
    if found and not skip_bad:
        found.raise_if_any(f"{root} split {split}", SKIP_BAD_HINT)
    if found:
        logger.warning("split %s of %s: left out %s", split, root, found.summary())
    logger.info("loaded split %s from %s: %d texts, %d images", split, root, len(texts), len(image_ids))
    skipped = {kind.value: count for kind, count in found.counts.items()}
    return RetrievalSplit(name=split, texts=texts, image_ids=image_ids, images=images, skipped=skipped)


def _open_gallery(
    root: Path, split: str, problems: ProblemLog, check_images: bool, workers: int
) -> tuple[ImageStore, list[int]]:
    tsv = images_path(root, split)
    if tsv.is_file() or not lmdb_path(root, split).is_dir():
        _require_file(tsv)
        store = TsvImageStore.open(tsv)
        problems.extend(store.index.scan_problems)
        ids = store.index.ids
        if check_images:
            validate_images(tsv, store.index, workers)
            problems.extend(store.index.decode_problems)
            ids = _drop_rows(ids, store.index.bad_rows)
        return store, ids.tolist()

    from engine.data.lmdb_images import LmdbImageStore

    store = LmdbImageStore(lmdb_path(root, split) / "imgs")
    if check_images:
        store.validate(problems, workers)
    return store, store.valid_ids()


def _membership(image_ids: list[int]) -> Callable[[int], bool]:
    """Return a test for gallery membership: a binary search, since a set of 100k ints costs ~5 MB."""
    ordered = np.sort(np.asarray(image_ids, dtype=np.int64))

    def contains(image_id: int) -> bool:
        slot = int(np.searchsorted(ordered, image_id))
        return slot < len(ordered) and int(ordered[slot]) == image_id

    return contains


def _drop_rows(ids: np.ndarray, bad_rows: np.ndarray) -> np.ndarray:
    keep = np.ones(len(ids), dtype=bool)
    keep[bad_rows] = False
    return ids[keep]


def _load_texts(
    root: Path, split: str, problems: ProblemLog, has_image: Callable[[int], bool], require_images: bool
) -> list[TextRecord]:
    path = texts_path(root, split)
    if not path.is_file() and (lmdb_path(root, split) / "pairs").is_dir():
        from engine.data.lmdb_images import read_lmdb_texts

        return read_lmdb_texts(lmdb_path(root, split) / "pairs", problems, has_image, require_images)
    return read_texts(path, problems, has_image=has_image, require_images=require_images)


def read_texts(
    path: Path,
    problems: ProblemLog | None = None,
    *,
    has_image: Callable[[int], bool] | None = None,
    require_images: bool = False,
) -> list[TextRecord]:
    """Parse a `{split}_texts.jsonl` file, tolerating a BOM, CRLF endings and blank lines.

    Bad rows are left out and added to `problems`. Without a log, any bad row raises a
    DatasetError that names the first. With
    `has_image`, image ids the gallery lacks are dropped and reported as missing images.
    """
    _require_file(path)
    log = ProblemLog() if problems is None else problems
    records = []
    seen: set[int] = set()
    for line_number, line in _decoded_lines(path, log):
        record = _parse_text_line(line, path, line_number, log)
        if record is None:
            continue
        if record.text_id in seen:
            log.add(ProblemKind.duplicate_text_id, path, line_number,
                    f"duplicate text_id {record.text_id}; each text must appear once per split")
            continue
        seen.add(record.text_id)
        record = _check_text_images(record, path, line_number, log, has_image, require_images)
        if record is not None:
            records.append(record)
    if problems is None:
        log.raise_if_any(path, N_("fix or delete those lines"))
    return records


def _decoded_lines(path: Path, log: ProblemLog) -> Iterator[tuple[int, str]]:
    """Yield (line number, text) of non-blank lines; a line that is not UTF-8 is reported and skipped.

    Lines are decoded one at a time from bytes, so an invalid byte is reported on its own line
    and the lines after it are still read. JSON parsing ignores the CR of CRLF endings.
    """
    with open(path, "rb") as lines:
        for line_number, raw in enumerate(lines, start=1):
            if line_number == 1:
                raw = raw.removeprefix(_UTF8_BOM)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                log.add(ProblemKind.malformed_line, path, line_number, f"invalid UTF-8 ({error.reason})")
                continue
            if line.strip():
                yield line_number, line


def _parse_text_line(line: str, path: Path, line_number: int, log: ProblemLog) -> TextRecord | None:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as error:
        log.add(ProblemKind.malformed_line, path, line_number, f"invalid JSON ({error.msg})")
        return None
    if not isinstance(obj, dict):
        log.add(ProblemKind.malformed_line, path, line_number,
                f"expected a JSON object, got {type(obj).__name__}")
        return None
    try:
        text_id = _required_field(obj, "text_id", int)
        text = _required_field(obj, "text", str)
        image_ids = _image_ids_field(obj)
    except ValueError as error:
        log.add(ProblemKind.malformed_line, path, line_number, str(error))
        return None
    if not text.strip():
        log.add(ProblemKind.empty_caption, path, line_number, f"text_id {text_id} has an empty caption")
        return None
    return TextRecord(text_id=text_id, text=text, image_ids=image_ids)


def _required_field(obj: dict[str, Any], key: str, kind: type) -> Any:
    value = obj.get(key)
    if value is None:
        raise ValueError(f"missing field {key!r}; each line needs text_id and text")
    type_ok = _is_int(value) if kind is int else isinstance(value, kind)
    if not type_ok:
        raise ValueError(f"field {key!r} must be {kind.__name__}, got {value!r}")
    return value


def _image_ids_field(obj: dict[str, Any]) -> tuple[int, ...]:
    image_ids = obj.get("image_ids", [])
    if not (isinstance(image_ids, list) and all(_is_int(i) for i in image_ids)):
        raise ValueError(f"image_ids must be a list of integers, got {image_ids!r}")
    return tuple(image_ids)


def _check_text_images(
    record: TextRecord,
    path: Path,
    line_number: int,
    log: ProblemLog,
    has_image: Callable[[int], bool] | None,
    require_images: bool,
) -> TextRecord | None:
    """Drop image ids the gallery lacks; return None when a training text is left without images."""
    if has_image is not None:
        missing = [i for i in record.image_ids if not has_image(i)]
        if missing:
            shown = ", ".join(map(str, missing[:5])) + (" …" if len(missing) > 5 else "")
            log.add(ProblemKind.missing_image, path, line_number,
                    f"text_id {record.text_id} lists image_ids not in the gallery: {shown}")
            kept = tuple(i for i in record.image_ids if has_image(i))
            if require_images and not kept:
                return None  # already reported as a missing image, so not counted twice
            record = TextRecord(record.text_id, record.text, kept)
    if require_images and not record.image_ids:
        log.add(ProblemKind.text_without_images, path, line_number,
                f"text_id {record.text_id} has no image in the gallery; a training text needs one")
        return None
    return record


def _is_int(value: object) -> bool:
    # bool is a subclass of int, but `true` is never a valid id.
    return isinstance(value, int) and not isinstance(value, bool)


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise DatasetError(_("{path} not found; a Chinese-CLIP dataset folder needs {texts} and {images} (or {lmdb}) "
                             "for each split").format(path=path, texts="{split}_texts.jsonl",
                                                      images="{split}_imgs.tsv", lmdb="lmdb/{split}/"))


def write_split(
    root: Path,
    split: str,
    texts: Iterable[TextRecord],
    images: Iterable[tuple[int, bytes]],
) -> None:
    """Write one split in the Chinese-CLIP layout; images are (image_id, encoded file bytes)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with open(texts_path(root, split), "w", encoding="utf-8", newline="\n") as out:
        for record in texts:
            line = {"text_id": record.text_id, "text": record.text, "image_ids": list(record.image_ids)}
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    with open(images_path(root, split), "wb") as out:
        for image_id, data in images:
            out.write(b"%d\t%s\n" % (image_id, base64.urlsafe_b64encode(data)))
