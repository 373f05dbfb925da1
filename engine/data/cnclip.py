"""Reader and writer for the Chinese-CLIP dataset layout (Flickr30K-CN, COCO-CN, MUGE, emoji-zh).

A split named `valid` is stored as two files in the dataset folder:

    valid_texts.jsonl   one JSON object a line: {"text_id": 1, "text": "...", "image_ids": [7, 9]}
    valid_imgs.tsv      one image a line: image_id, a tab, then the image file bytes in base64

Reading the texts is eager. The tsv is scanned once for the byte offset of every line, and each
image is decoded on demand by `RetrievalSplit.load_image`.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image, UnidentifiedImageError

from engine.data.records import DatasetError, RetrievalSplit, TextRecord

logger = logging.getLogger(__name__)

_UTF8_BOM = b"\xef\xbb\xbf"
_BACKGROUND = (255, 255, 255)


def texts_path(root: Path, split: str) -> Path:
    """Return the path of a split's caption file."""
    return Path(root) / f"{split}_texts.jsonl"


def images_path(root: Path, split: str) -> Path:
    """Return the path of a split's image gallery file."""
    return Path(root) / f"{split}_imgs.tsv"


def load_split(root: Path, split: str) -> RetrievalSplit:
    """Read one split; images stay on disk until `RetrievalSplit.load_image` decodes them."""
    root = Path(root)
    texts = read_texts(texts_path(root, split))
    images = TsvImageStore.scan(images_path(root, split))
    logger.info(
        "loaded split %s from %s: %d texts, %d images", split, root, len(texts), len(images.offsets)
    )
    return RetrievalSplit(name=split, texts=texts, image_ids=list(images.offsets), images=images)


def read_texts(path: Path) -> list[TextRecord]:
    """Parse a `{split}_texts.jsonl` file, tolerating a BOM, CRLF endings and blank lines."""
    _require_file(path)
    records = []
    # utf-8-sig drops a leading BOM, and text mode turns CRLF into LF.
    with open(path, encoding="utf-8-sig") as lines:
        for line_number, line in enumerate(lines, start=1):
            if line.strip():
                records.append(_parse_text_line(line, f"{path}:{line_number}"))
    return records


def _parse_text_line(line: str, where: str) -> TextRecord:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as error:
        raise DatasetError(f"{where}: invalid JSON ({error.msg}); fix or delete that line") from None
    if not isinstance(obj, dict):
        raise DatasetError(f"{where}: expected a JSON object, got {type(obj).__name__}")

    text_id = _required_field(obj, "text_id", int, where)
    text = _required_field(obj, "text", str, where)
    image_ids = obj.get("image_ids", [])
    valid_ids = isinstance(image_ids, list) and all(_is_int(i) for i in image_ids)
    if not valid_ids:
        raise DatasetError(f"{where}: image_ids must be a list of integers, got {image_ids!r}")
    return TextRecord(text_id=text_id, text=text, image_ids=tuple(image_ids))


def _required_field(obj: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = obj.get(key)
    if value is None:
        raise DatasetError(f"{where}: missing field {key!r}; each line needs text_id and text")
    type_ok = _is_int(value) if kind is int else isinstance(value, kind)
    if not type_ok:
        raise DatasetError(f"{where}: field {key!r} must be {kind.__name__}, got {value!r}")
    return value


def _is_int(value: object) -> bool:
    # bool is a subclass of int, but `true` is never a valid id.
    return isinstance(value, int) and not isinstance(value, bool)


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise DatasetError(
            f"{path} not found; a Chinese-CLIP dataset folder needs "
            "{split}_texts.jsonl and {split}_imgs.tsv for each split"
        )


class TsvImageStore:
    """An `{split}_imgs.tsv` gallery indexed by byte offset, decoded one image at a time.

    Only the path and the offsets are pickled, so every DataLoader worker opens its own file
    handle on first use instead of sharing one file position across processes.
    """

    def __init__(self, path: Path, offsets: dict[int, int]) -> None:
        self.path = Path(path)
        self.offsets = offsets  # image_id -> byte offset of its line, in file order
        self._file: BinaryIO | None = None

    @classmethod
    def scan(cls, path: Path) -> TsvImageStore:
        """Index every line of the tsv without decoding any image."""
        _require_file(path)
        offsets: dict[int, int] = {}
        position = 0
        with open(path, "rb") as lines:
            for line_number, line in enumerate(lines, start=1):
                if line.strip():
                    image_id = _parse_image_id(line, f"{path}:{line_number}")
                    if image_id in offsets:
                        raise DatasetError(
                            f"{path}:{line_number}: duplicate image_id {image_id}; "
                            "each image must appear once per split"
                        )
                    offsets[image_id] = position
                position += len(line)
        return cls(path, offsets)

    def load(self, image_id: int) -> Image.Image:
        """Decode one image as RGB, compositing any transparency onto white."""
        offset = self.offsets.get(image_id)
        if offset is None:
            raise KeyError(f"image_id {image_id} is not in {self.path}")
        if self._file is None:
            self._file = open(self.path, "rb")
        self._file.seek(offset)
        line = self._file.readline()
        encoded = line.split(b"\t", 1)[1]
        return _decode_image(encoded, f"{self.path} image_id {image_id}")

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "offsets": self.offsets}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self.offsets = state["offsets"]
        self._file = None

    def __del__(self) -> None:
        if getattr(self, "_file", None) is not None:
            self._file.close()


def _parse_image_id(line: bytes, where: str) -> int:
    if line.startswith(_UTF8_BOM):
        line = line[len(_UTF8_BOM) :]
    head, tab, _ = line.partition(b"\t")
    if not tab:
        raise DatasetError(f"{where}: expected 'image_id<TAB>base64 image', found no tab")
    try:
        return int(head)
    except ValueError:
        raise DatasetError(f"{where}: image_id must be an integer, got {head[:40]!r}") from None


def _decode_image(encoded: bytes, where: str) -> Image.Image:
    encoded = encoded.strip()
    # Chinese-CLIP writes the URL-safe alphabet, other tools the standard one. Mapping '-' and
    # '_' onto '+' and '/' reads both, and missing '=' padding is restored first.
    encoded += b"=" * (-len(encoded) % 4)
    try:
        raw = base64.b64decode(encoded, altchars=b"-_")
        image = Image.open(io.BytesIO(raw))
        image.load()
    except (binascii.Error, UnidentifiedImageError, OSError) as error:
        raise DatasetError(f"{where}: cannot decode image ({error}); re-encode it") from None
    return _to_rgb(image)


def _to_rgb(image: Image.Image) -> Image.Image:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if not has_alpha:
        return image.convert("RGB")
    # A plain RGB conversion drops alpha and exposes whatever colour the transparent pixels
    # happen to hold (often black), so transparent images are flattened onto white.
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, _BACKGROUND + (255,))
    return Image.alpha_composite(background, rgba).convert("RGB")


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
