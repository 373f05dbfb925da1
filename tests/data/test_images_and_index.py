"""Tests of image mode conversion and of the cached tsv index."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.data import tsv_images
from engine.data.images import decode_base64_image, decode_image_bytes
from engine.data.problems import ProblemKind
from engine.data.records import DatasetError


def encoded(image: Image.Image, format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


@pytest.mark.parametrize(("mode", "colour", "format", "expected"), [
    ("P", 0, "PNG", (0, 0, 0)),
    ("L", 200, "PNG", (200, 200, 200)),
    ("LA", (100, 0), "PNG", (255, 255, 255)),  # fully transparent: flattened onto white
    ("CMYK", (0, 0, 0, 0), "TIFF", (255, 255, 255)),
    ("I;16", 65535, "PNG", (255, 255, 255)),
    ("I;16", 32768, "PNG", (128, 128, 128)),  # scaled to 8 bits, not clipped at 255
])
def test_any_mode_decodes_to_rgb(mode, colour, format, expected) -> None:
    image = decode_image_bytes(encoded(Image.new(mode, (3, 2), colour), format), "test")

    assert image.mode == "RGB"
    assert image.getpixel((1, 1)) == expected


def test_truncated_image_raises_dataset_error() -> None:
    data = encoded(Image.new("RGB", (8, 8), (1, 2, 3)), "PNG")[:40]

    with pytest.raises(DatasetError, match="^where: (cannot decode|invalid) image"):
        decode_image_bytes(data, "where")


def test_invalid_base64_raises_dataset_error() -> None:
    with pytest.raises(DatasetError, match="^row 3: invalid base64"):
        decode_base64_image(b"ab$cd", "row 3")


def write_tsv(path: Path, rows: list[bytes]) -> Path:
    path.write_bytes(b"".join(row + b"\n" for row in rows))
    return path


def png_row(image_id: int) -> bytes:
    return b"%d\t%s" % (image_id, base64.urlsafe_b64encode(encoded(Image.new("RGB", (2, 2)), "PNG")))


def test_index_arrays_are_int64_in_file_order(tmp_path) -> None:
    path = write_tsv(tmp_path / "x.tsv", [png_row(30), b"", png_row(10), png_row(20)])

    index = tsv_images.load_index(path)

    assert index.ids.dtype == np.int64
    assert index.ids.tolist() == [30, 10, 20]
    assert index.lines.tolist() == [1, 3, 4]
    assert index.offsets[0] == 0


def test_index_is_read_back_from_cache(tmp_path, monkeypatch) -> None:
    path = write_tsv(tmp_path / "x.tsv", [png_row(1), png_row(2)])
    tsv_images.load_index(path)
    monkeypatch.setattr(tsv_images, "scan_tsv", lambda path: pytest.fail("rescanned a cached tsv"))

    index = tsv_images.load_index(path)

    assert index.ids.tolist() == [1, 2]


def test_changed_tsv_invalidates_cached_index(tmp_path) -> None:
    path = write_tsv(tmp_path / "x.tsv", [png_row(1), png_row(2)])
    tsv_images.load_index(path)
    write_tsv(path, [png_row(1), png_row(2), png_row(3)])
    os.utime(path, ns=(1, 1))

    assert tsv_images.load_index(path).ids.tolist() == [1, 2, 3]


def test_validation_result_is_cached_with_index(tmp_path) -> None:
    path = write_tsv(tmp_path / "x.tsv", [png_row(1), b"2\tnot-an-image", png_row(3)])
    tsv_images.validate_images(path, tsv_images.load_index(path))

    index = tsv_images.load_index(path)

    assert index.bad_rows.tolist() == [1]
    assert index.decode_problems.counts[ProblemKind.bad_image] == 1
    assert index.decode_problems.examples[ProblemKind.bad_image][0].line == 2


def test_store_lookup_finds_unsorted_ids(tmp_path) -> None:
    path = write_tsv(tmp_path / "x.tsv", [png_row(30), png_row(10), png_row(20)])
    store = tsv_images.TsvImageStore.open(path)

    assert store.row_of(10) == 1
    assert store.row_of(25) is None
    assert store.load(20).size == (2, 2)
