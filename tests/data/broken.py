"""A Chinese-CLIP-layout dataset with one broken row of each kind, and where each one is."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

from engine.data.problems import ProblemKind
from tests.fixtures import write_toy_dataset


def _append(path: Path, lines: list[bytes]) -> list[int]:
    """Append lines and return their 1-based line numbers."""
    first = len(path.read_bytes().splitlines()) + 1
    with open(path, "ab") as out:
        for line in lines:
            out.write(line + b"\n")
    return list(range(first, first + len(lines)))


def write_broken_dataset(root: Path) -> dict[ProblemKind, tuple[Path, int]]:
    """Write the toy dataset, then append one bad row of every kind to its train split.

    Returns where each bad row is. The eval splits stay clean.
    """
    write_toy_dataset(root)
    texts, images = root / "train_texts.jsonl", root / "train_imgs.tsv"
    text_lines = _append(texts, [
        '{"text_id": 900, "text": "不存在的图", "image_ids": [424242]}'.encode(),
        b'{"text_id": 901, "text": ',
        '{"text_id": 902, "text": " \\t ", "image_ids": [1000]}'.encode(),
        '{"text_id": 1, "text": "重复的编号", "image_ids": [1000]}'.encode(),
        '{"text_id": 903, "text": "没有图片", "image_ids": []}'.encode(),
    ])
    image_lines = _append(images, [
        b"5000\t" + base64.b64encode(b"these bytes are no image"),
        b"1000\t" + base64.b64encode(b"a second copy of image 1000"),
    ])
    return {
        ProblemKind.missing_image: (texts, text_lines[0]),
        ProblemKind.malformed_line: (texts, text_lines[1]),
        ProblemKind.empty_caption: (texts, text_lines[2]),
        ProblemKind.duplicate_text_id: (texts, text_lines[3]),
        ProblemKind.text_without_images: (texts, text_lines[4]),
        ProblemKind.bad_image: (images, image_lines[0]),
        ProblemKind.duplicate_image_id: (images, image_lines[1]),
    }


def copy_without_broken_rows(broken: Path, clean: Path) -> Path:
    """Copy a dataset written by `write_broken_dataset`, dropping the rows it appended."""
    shutil.copytree(broken, clean)
    for name, appended in (("train_texts.jsonl", 5), ("train_imgs.tsv", 2)):
        lines = (clean / name).read_bytes().splitlines(keepends=True)
        (clean / name).write_bytes(b"".join(lines[:-appended]))
    return clean
