"""Reader for the plain layout: a caption file beside ordinary image files.

A split is one caption file in the dataset folder, JSON lines or CSV with a header:

    train_captions.jsonl   {"image": "imgs/cat.jpg", "caption": "一只猫", "group": "cat"}
    train_captions.csv     image,caption,group

or one shared `captions.jsonl` / `captions.csv` whose rows carry a `split` field. `image` is a
path relative to the caption file, `caption` may also be called `text`, and the optional
`group` (or `concept`) makes every image of the group a positive for every caption of the group.
Without a group, a caption's positives are the images it is paired with on any row.

Image ids are assigned in order of first appearance (0, 1, …), and text ids likewise.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from engine.data.images import decode_image_bytes
from engine.data.problems import ProblemKind, ProblemLog
from engine.data.records import DatasetError, RetrievalSplit, TextRecord
from engine.messages import N_, _

logger = logging.getLogger(__name__)

_SUFFIXES = (".jsonl", ".csv")


def caption_file(root: Path, split: str) -> tuple[Path, bool] | None:
    """Return (caption file of `split`, whether it is shared by all splits), or None."""
    root = Path(root)
    for suffix in _SUFFIXES:
        if (root / f"{split}_captions{suffix}").is_file():
            return root / f"{split}_captions{suffix}", False
    for suffix in _SUFFIXES:
        if (root / f"captions{suffix}").is_file():
            return root / f"captions{suffix}", True
    return None


def is_plain(root: Path) -> bool:
    """Tell whether a folder has a plain-layout caption file."""
    return any(Path(root).glob("*captions.jsonl")) or any(Path(root).glob("*captions.csv"))


def list_splits(root: Path) -> list[str]:
    """Return the split names of a plain-layout folder."""
    root = Path(root)
    names = {p.name.split("_captions")[0] for p in root.iterdir() if "_captions." in p.name}
    for suffix in _SUFFIXES:
        shared = root / f"captions{suffix}"
        if shared.is_file():
            names.update(str(row.get("split")) for _line, row in _rows(shared, ProblemLog()) if row.get("split"))
    return sorted(names)


@dataclass
class _Row:
    line: int
    image: str
    caption: str
    group: str | None


class FileImageStore:
    """Images that are ordinary files; ids are positions in `paths`. Pickles as a list of paths."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths

    def load(self, image_id: int) -> Image.Image:
        """Decode one image file as RGB."""
        if not 0 <= image_id < len(self.paths):
            raise KeyError(f"image_id {image_id} is not in this plain-layout gallery")
        path = self.paths[image_id]
        return decode_image_bytes(path.read_bytes(), str(path))


def load_split(
    root: Path, split: str, *, skip_bad: bool = False, check_images: bool = False,
    require_images: bool = False, problems: ProblemLog | None = None,
) -> RetrievalSplit:
    """Read one plain-layout split; the keywords mean what they mean for `cnclip.load_split`."""
    found = caption_file(root, split)
    if found is None:
        raise DatasetError(_("{root}: no {split}_captions.jsonl, {split}_captions.csv or captions.jsonl/csv").format(
            root=root, split=split))
    path, shared = found
    log = ProblemLog() if problems is None else problems
    rows = [row for row in _valid_rows(path, split if shared else None, log)]
    image_paths, image_of = _gallery(path.parent, rows, path, log, check_images)
    texts = _texts(rows, image_of, path, log, require_images)
    if log and not skip_bad:
        log.raise_if_any(f"{root} split {split}", N_("run `xmr data check`, fix the rows, or pass --skip-bad"))
    logger.info("loaded plain split %s from %s: %d texts, %d images", split, root, len(texts), len(image_paths))
    skipped = {kind.value: count for kind, count in log.counts.items()}
    return RetrievalSplit(split, texts, list(range(len(image_paths))), FileImageStore(image_paths), skipped)


def _rows(path: Path, log: ProblemLog) -> Iterator[tuple[int, dict[str, Any]]]:
    if path.suffix == ".csv":
        yield from _csv_rows(path, log)
        return
    with open(path, encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as error:
                log.add(ProblemKind.malformed_line, path, number, f"invalid JSON ({error.msg})")
                continue
            if not isinstance(obj, dict):
                log.add(ProblemKind.malformed_line, path, number, f"expected a JSON object, got {type(obj).__name__}")
                continue
            yield number, obj


def _csv_rows(path: Path, log: ProblemLog) -> Iterator[tuple[int, dict[str, Any]]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
                continue
            if None in row:  # more cells than header columns
                log.add(ProblemKind.malformed_line, path, reader.line_num, "more cells than header columns")
                continue
            yield reader.line_num, row


def _valid_rows(path: Path, split: str | None, log: ProblemLog) -> Iterator[_Row]:
    for number, obj in _rows(path, log):
        if split is not None and obj.get("split") != split:
            continue
        image = obj.get("image")
        caption = obj.get("caption", obj.get("text"))
        group = obj.get("group", obj.get("concept"))
        if not isinstance(image, str) or not image.strip():
            log.add(ProblemKind.malformed_line, path, number, "missing field 'image' (a path relative to the file)")
            continue
        if not isinstance(caption, str):
            log.add(ProblemKind.malformed_line, path, number, "missing field 'caption' (or 'text')")
            continue
        if not caption.strip():
            log.add(ProblemKind.empty_caption, path, number, f"the caption of {image} is empty")
            continue
        yield _Row(number, image.strip(), caption, None if group in (None, "") else str(group))


def _gallery(
    folder: Path, rows: list[_Row], path: Path, log: ProblemLog, check_images: bool
) -> tuple[list[Path], Callable[[str], int | None]]:
    """Assign ids to the image files that exist (and decode, when checked)."""
    ids: dict[str, int | None] = {}
    paths: list[Path] = []
    for row in rows:
        if row.image in ids:
            continue
        file = folder / row.image
        reason = _image_problem(file, check_images)
        if reason is not None:
            kind, message = reason
            log.add(kind, path, row.line, message)
            ids[row.image] = None
            continue
        ids[row.image] = len(paths)
        paths.append(file)
    return paths, ids.get


def _image_problem(file: Path, check_images: bool) -> tuple[ProblemKind, str] | None:
    if not file.is_file():
        return ProblemKind.missing_image, f"image file {file} not found"
    if check_images:
        try:
            decode_image_bytes(file.read_bytes(), str(file))
        except DatasetError as error:
            return ProblemKind.bad_image, str(error)
    return None


def _texts(
    rows: list[_Row], image_of: Callable[[str], int | None], path: Path, log: ProblemLog, require_images: bool
) -> list[TextRecord]:
    group_images: dict[str, list[int]] = {}
    caption_images: dict[tuple[str | None, str], list[int]] = {}
    first_line: dict[tuple[str | None, str], int] = {}
    for row in rows:
        image = image_of(row.image)
        key = (row.group, row.caption)
        first_line.setdefault(key, row.line)
        images = caption_images.setdefault(key, [])
        if image is not None:
            images.append(image)
            if row.group is not None:
                group_images.setdefault(row.group, []).append(image)
    texts = []
    for text_id, (key, images) in enumerate(caption_images.items()):
        group, caption = key
        positives = group_images.get(group, []) if group is not None else images
        unique = tuple(dict.fromkeys(positives))
        if require_images and not unique:
            log.add(ProblemKind.text_without_images, path, first_line[key],
                    f"caption {caption[:30]!r} has no readable image; a training text needs one")
            continue
        texts.append(TextRecord(text_id, caption, unique))
    return texts
