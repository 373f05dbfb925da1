"""Tests of the Chinese-CLIP layout reader and writer on small hand-written files."""

from __future__ import annotations

import base64
import io
import pickle
import re
from pathlib import Path

import pytest
from PIL import Image

from engine.data import cnclip
from engine.data.problems import ProblemKind, ProblemLog
from engine.data.records import DatasetError, TextRecord

BOM = "\ufeff"


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def palette_png() -> bytes:
    """A 4×3 palette (P mode) PNG: red on the left half, blue on the right."""
    image = Image.new("P", (4, 3))
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.paste(1, (2, 0, 4, 3))
    return png_bytes(image)


def transparent_png() -> bytes:
    """A 2×2 RGBA PNG whose pixels are fully transparent black."""
    return png_bytes(Image.new("RGBA", (2, 2), (0, 0, 0, 0)))


def url_safe_base64(data: bytes) -> bytes:
    """Encode with the URL-safe alphabet, padding the data until '-' or '_' appears in the output."""
    while True:
        encoded = base64.urlsafe_b64encode(data)
        if b"-" in encoded or b"_" in encoded:
            return encoded
        data += b"\0"  # PNG decoders ignore bytes after the IEND chunk


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    """A valid split written the way other tools do: BOM, CRLF, mixed base64, trailing blanks."""
    texts = (
        BOM + '{"text_id": 1, "text": "红色和蓝色", "image_ids": [10]}\r\n'
        '{"text_id": 2, "text": "透明的图", "image_ids": [11, 10]}\r\n'
        '{"text_id": 3, "text": "没有答案"}\r\n'
        "\r\n\r\n"
    )
    (tmp_path / "valid_texts.jsonl").write_bytes(texts.encode("utf-8"))
    standard_unpadded = base64.b64encode(transparent_png()).rstrip(b"=")
    gallery = (
        BOM.encode("utf-8") + b"10\t" + url_safe_base64(palette_png()) + b"\r\n"
        b"11\t" + standard_unpadded + b"\r\n"
        b"\r\n"
    )
    (tmp_path / "valid_imgs.tsv").write_bytes(gallery)
    return tmp_path


def test_reader_tolerates_bom_crlf_and_blank_lines(dataset: Path) -> None:
    split = cnclip.load_split(dataset, "valid")

    assert split.name == "valid"
    assert [record.text_id for record in split.texts] == [1, 2, 3]
    assert split.texts[0] == TextRecord(1, "红色和蓝色", (10,))
    assert split.texts[1].image_ids == (11, 10)
    assert split.image_ids == [10, 11]


def test_text_without_image_ids_gets_empty_tuple(dataset: Path) -> None:
    split = cnclip.load_split(dataset, "valid")

    assert split.texts[2].image_ids == ()


def test_url_safe_palette_image_decodes_to_rgb(dataset: Path) -> None:
    image = cnclip.load_split(dataset, "valid").load_image(10)

    assert image.mode == "RGB"
    assert image.size == (4, 3)
    assert image.getpixel((0, 0)) == (255, 0, 0)
    assert image.getpixel((3, 2)) == (0, 0, 255)


def test_transparent_image_is_flattened_onto_white(dataset: Path) -> None:
    image = cnclip.load_split(dataset, "valid").load_image(11)

    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (255, 255, 255)


def test_unknown_image_id_raises_key_error(dataset: Path) -> None:
    split = cnclip.load_split(dataset, "valid")

    with pytest.raises(KeyError, match="999"):
        split.load_image(999)


def test_split_pickles_after_opening_its_file(dataset: Path) -> None:
    split = cnclip.load_split(dataset, "valid")
    split.load_image(10)

    copy = pickle.loads(pickle.dumps(split))

    assert copy.image_ids == split.image_ids
    assert copy.load_image(11).size == (2, 2)
    assert copy.load_image(10).getpixel((0, 0)) == (255, 0, 0)


def test_malformed_json_line_names_file_and_line(dataset: Path) -> None:
    path = dataset / "valid_texts.jsonl"
    path.write_text('{"text_id": 1, "text": "好", "image_ids": [10]}\n\n{"text_id": 2,\n', encoding="utf-8")

    with pytest.raises(DatasetError) as raised:
        cnclip.load_split(dataset, "valid")

    message = str(raised.value)
    assert f"{path}:3" in message
    assert "invalid JSON" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"text": "好", "image_ids": []}', "missing field 'text_id'"),
        ('{"text_id": "7", "text": "好"}', "field 'text_id' must be int"),
        ('{"text_id": 7, "text": "好", "image_ids": [true]}', "image_ids must be a list of integers"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_invalid_text_record_is_rejected(dataset: Path, line: str, expected: str) -> None:
    path = dataset / "valid_texts.jsonl"
    path.write_text(line + "\n", encoding="utf-8")

    with pytest.raises(DatasetError, match=re.escape(f"{path}:1: {expected}")):
        cnclip.read_texts(path)


def test_missing_file_raises_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="train_texts.jsonl not found"):
        cnclip.load_split(tmp_path, "train")


def test_gallery_line_without_tab_is_rejected(dataset: Path) -> None:
    path = dataset / "valid_imgs.tsv"
    path.write_bytes(b"10\tAAAA\n11 AAAA\n")

    with pytest.raises(DatasetError, match=re.escape(f"{path}:2: expected 'image_id<TAB>base64 image'")):
        cnclip.load_split(dataset, "valid")


def test_duplicate_image_id_is_rejected(dataset: Path) -> None:
    path = dataset / "valid_imgs.tsv"
    path.write_bytes(b"10\tAAAA\n10\tAAAA\n")

    with pytest.raises(DatasetError, match=re.escape(f"{path}:2: duplicate image_id 10")):
        cnclip.load_split(dataset, "valid")


def test_undecodable_image_names_its_id(dataset: Path) -> None:
    (dataset / "valid_imgs.tsv").write_bytes(b"10\t" + base64.b64encode(b"not an image") + b"\n")
    split = cnclip.load_split(dataset, "valid", skip_bad=True)  # text 2 also lists the absent image 11

    with pytest.raises(DatasetError, match="image_id 10: invalid image"):
        split.load_image(10)


def test_written_split_reads_back_unchanged(tmp_path: Path) -> None:
    texts = [TextRecord(5, "猫，狗", (1, 2)), TextRecord(6, "没有图", ())]
    images = [(1, palette_png()), (2, transparent_png())]

    cnclip.write_split(tmp_path, "test", texts, images)
    split = cnclip.load_split(tmp_path, "test")

    assert split.texts == texts
    assert split.image_ids == [1, 2]
    assert split.load_image(1).getpixel((3, 0)) == (0, 0, 255)
    assert "猫，狗" in (tmp_path / "test_texts.jsonl").read_text(encoding="utf-8")


def test_invalid_utf8_line_is_reported_alone(tmp_path: Path) -> None:
    path = tmp_path / "valid_texts.jsonl"
    path.write_bytes(b'{"text_id": 1, "text": "\xff"}\n' + '{"text_id": 2, "text": "好"}\n'.encode("utf-8"))
    problems = ProblemLog()

    records = cnclip.read_texts(path, problems)

    assert [record.text_id for record in records] == [2]
    assert str(problems.examples[ProblemKind.malformed_line][0]).startswith(f"{path}:1: invalid UTF-8")
