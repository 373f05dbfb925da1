"""Tests of the plain layout, format detection, and the dataset registry in the store."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from engine.data.datasets import detect_format, read_split
from engine.data.records import DatasetError
from xmr_tui.cli.main import app
from xmr_tui.store import Store
from xmr_tui.store.datasets import list_datasets, register_dataset, resolve_dataset


def save_image(path: Path, mode: str, colour) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, (4, 4), colour).save(path)


@pytest.fixture()
def plain(tmp_path: Path) -> Path:
    root = tmp_path / "plain"
    save_image(root / "imgs" / "a.png", "RGB", (255, 0, 0))
    save_image(root / "imgs" / "b.png", "L", 10)
    save_image(root / "imgs" / "c.tif", "CMYK", (0, 255, 0, 0))
    (root / "train_captions.jsonl").write_text(
        '{"image": "imgs/a.png", "caption": "红色", "group": "red"}\n'
        '{"image": "imgs/b.png", "caption": "深灰", "group": "red"}\n'
        '{"image": "imgs/c.tif", "caption": "青色"}\n'
        '{"image": "imgs/a.png", "caption": "青色"}\n', encoding="utf-8")
    (root / "test_captions.csv").write_text(
        "\ufeffimage,caption\r\nimgs/a.png,红的\r\nimgs/missing.png,不见了\r\n\r\n", encoding="utf-8")
    return root


def test_plain_group_makes_every_group_image_positive(plain: Path) -> None:
    split = read_split(plain, "train", check_images=True)

    by_caption = {text.text: text.image_ids for text in split.texts}
    assert by_caption["红色"] == (0, 1)
    assert by_caption["深灰"] == (0, 1)
    assert by_caption["青色"] == (2, 0)


def test_plain_images_of_any_mode_decode_to_rgb(plain: Path) -> None:
    split = read_split(plain, "train")

    for image_id in split.image_ids:
        assert split.load_image(image_id).mode == "RGB"


def test_plain_csv_reports_missing_file_with_line(plain: Path) -> None:
    with pytest.raises(DatasetError, match=r"test_captions.csv:3: image file .*missing.png not found"):
        read_split(plain, "test")


def test_format_is_detected_per_layout(plain: Path, toy_dataset: Path, tmp_path: Path) -> None:
    assert detect_format(plain) == "plain"
    assert detect_format(toy_dataset) == "cnclip"
    with pytest.raises(DatasetError, match="no dataset files found"):
        detect_format(tmp_path)


def test_registered_name_resolves_to_root_and_format(plain: Path, tmp_path: Path, tiny_config) -> None:
    store = Store(tmp_path / "x.db")
    register_dataset(store, "mine", plain)
    config = tiny_config()
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, dataset="mine"))

    resolved = resolve_dataset(store, config)

    assert resolved.data.root == str(plain.resolve())
    assert resolved.data.format == "plain"
    assert [entry.name for entry in list_datasets(store)] == ["mine"]


def test_unregistered_path_is_left_unchanged(tmp_path: Path, tiny_config) -> None:
    config = tiny_config()

    assert resolve_dataset(Store(tmp_path / "x.db"), config) == config


def test_built_in_name_cannot_be_registered(plain: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="built-in"):
        register_dataset(Store(tmp_path / "x.db"), "emoji-zh", plain)


def test_cli_register_list_and_info(plain: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    db = ["--db", str(tmp_path / "x.db")]

    registered = runner.invoke(app, ["data", "register", "mine", str(plain), *db])
    listed = runner.invoke(app, ["data", "list", *db])
    described = runner.invoke(app, ["data", "info", "mine", *db])

    assert registered.exit_code == 0, registered.output
    assert "plain layout" in registered.output
    assert "mine" in listed.output
    assert described.exit_code == 0, described.output
    assert "train" in described.output
    assert "test" in described.output


def test_dataset_table_migration_is_idempotent(tmp_path: Path) -> None:
    from sqlalchemy import inspect

    from xmr_tui.store.datasets import add_dataset_table

    store = Store(tmp_path / "x.db")
    with store.writer.begin() as connection:
        add_dataset_table(connection)
        add_dataset_table(connection)

    assert "dataset" in inspect(store.writer).get_table_names()
