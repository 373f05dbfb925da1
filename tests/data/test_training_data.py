"""Training and evaluation on checked data: rejection, --skip-bad, positives and augmentation."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from engine.augment import IMAGE_AUGMENTATIONS, TEXT_AUGMENTATIONS
from engine.data.datasets import data_warnings, load_split
from engine.data.pipeline import PairDataset, PairIndex, image_transform
from engine.data.records import DatasetError, RetrievalSplit, TextRecord
from engine.data.submission import top_k_images, write_predictions
from engine.evaluate import relevance
from engine.sink import RunSink
from engine.train import eval_transform, run
from tests.data.broken import copy_without_broken_rows, write_broken_dataset


class EventSink(RunSink):
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def event(self, level: str, message: str) -> None:
        self.events.append((level, message))


@pytest.fixture(scope="module")
def broken_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data") / "broken"
    write_broken_dataset(root)
    return root


def test_clean_copy_trains_and_evaluates(broken_root, tmp_path, tiny_config) -> None:
    clean = copy_without_broken_rows(broken_root, tmp_path / "clean")

    result = run(tiny_config(data={"dataset": str(clean)}))

    assert result.steps_done == 6
    assert 0 <= result.metrics["t2i/R@1"] <= 100
    assert 0 <= result.metrics["i2t/R@1"] <= 100


def test_run_rejects_dataset_with_bad_rows(broken_root, tiny_config) -> None:
    with pytest.raises(DatasetError, match="--skip-bad"):
        run(tiny_config(data={"dataset": str(broken_root)}))


def test_skip_bad_trains_and_reports_skipped_rows(broken_root, tiny_config) -> None:
    sink = EventSink()

    result = run(tiny_config(data={"dataset": str(broken_root), "skip_bad": True}), sink)

    warnings = [message for level, message in sink.events if level == "warning"]
    assert result.steps_done == 6
    assert any("left out 7 rows" in message and "split train" in message for message in warnings), warnings


def test_eval_split_keeps_texts_without_image_ids(toy_dataset, tmp_path, tiny_config) -> None:
    root = tmp_path
    lines = (toy_dataset / "test_texts.jsonl").read_text(encoding="utf-8").splitlines()
    unanswered = [json.dumps({k: v for k, v in json.loads(line).items() if k != "image_ids"}) for line in lines]
    (root / "test_texts.jsonl").write_text("\n".join(unanswered) + "\n", encoding="utf-8")
    (root / "test_imgs.tsv").write_bytes((toy_dataset / "test_imgs.tsv").read_bytes())

    split = load_split(tiny_config(data={"dataset": str(root)}).data, "test")

    assert len(split.texts) == len(lines)
    assert all(record.image_ids == () for record in split.texts)


class _NoImages:
    def load(self, image_id):
        raise AssertionError("relevance must not decode images")


def test_relevance_inverts_text_annotations_for_images() -> None:
    texts = [TextRecord(1, "a", (20, 10)), TextRecord(2, "b", (10,)), TextRecord(3, "c", ()),
             TextRecord(4, "d", (30, 99))]
    split = RetrievalSplit("test", texts, [10, 20, 30, 40], _NoImages())

    text_to_images, image_to_texts = relevance(split)

    assert text_to_images == [frozenset({0, 1}), frozenset({0}), frozenset(), frozenset({2})]
    assert image_to_texts == [frozenset({0, 1}), frozenset({0}), frozenset({3}), frozenset()]


def test_predictions_are_written_in_submission_shape(tmp_path) -> None:
    texts = [TextRecord(7, "a", ()), TextRecord(8, "b", ())]
    split = RetrievalSplit("test", texts, [100, 200, 300], _NoImages())
    text = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    image = torch.tensor([[0.9, 0.1], [0.0, 1.0], [0.5, 0.5]])

    write_predictions(tmp_path / "pred.jsonl", split, top_k_images(text, image, "exact", 2))

    lines = [json.loads(line) for line in (tmp_path / "pred.jsonl").read_text().splitlines()]
    assert lines == [{"text_id": 7, "image_ids": [100, 300]}, {"text_id": 8, "image_ids": [200, 300]}]


def _first_batch(split, image_name: str, text_name: str, seed: int) -> tuple[list[str], torch.Tensor]:
    augmentation = IMAGE_AUGMENTATIONS.get(image_name)(32)
    transform = image_transform(32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), augmentation)
    dataset = PairDataset(split, PairIndex(split), transform, TEXT_AUGMENTATIONS.get(text_name)(), seed)
    items = [dataset[(pair, pair)] for pair in range(4)]
    return [caption for caption, *_ in items], torch.stack([pixels for _, pixels, *_ in items])


@pytest.mark.parametrize("image_name", IMAGE_AUGMENTATIONS.names())
@pytest.mark.parametrize("text_name", TEXT_AUGMENTATIONS.names())
def test_seed_fixes_augmented_batch(toy_dataset, tiny_config, image_name, text_name) -> None:
    split = load_split(tiny_config().data, "train")

    first = _first_batch(split, image_name, text_name, seed=3)
    again = _first_batch(split, image_name, text_name, seed=3)

    assert first[0] == again[0]
    assert torch.equal(first[1], again[1])


@pytest.mark.parametrize("image_name", IMAGE_AUGMENTATIONS.names())
def test_evaluation_images_are_never_augmented(toy_dataset, tiny_config, image_name) -> None:
    backbone = SimpleNamespace(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    model = SimpleNamespace(image_encoder=SimpleNamespace(backbone=backbone))
    split = load_split(tiny_config().data, "test")
    image = split.load_image(split.image_ids[0])

    augmented_config = tiny_config(augment={"image": image_name})
    plain = image_transform(augmented_config.image.image_size, backbone.mean, backbone.std)

    assert torch.equal(eval_transform(augmented_config, model)(image), plain(image))


@pytest.mark.parametrize("image_name", [name for name in IMAGE_AUGMENTATIONS.names() if name != "none"])
def test_other_seed_changes_augmented_images(toy_dataset, tiny_config, image_name) -> None:
    split = load_split(tiny_config().data, "train")

    first = _first_batch(split, image_name, "none", seed=3)
    other = _first_batch(split, image_name, "none", seed=4)

    assert not torch.equal(first[1], other[1])


def test_cli_predict_writes_top_k_for_unanswered_split(toy_dataset, tmp_path, tiny_config) -> None:
    import yaml
    from typer.testing import CliRunner

    from xmr_tui.cli.main import app

    root = tmp_path / "data"
    root.mkdir()
    for name in ("train_texts.jsonl", "train_imgs.tsv", "test_imgs.tsv"):
        (root / name).write_bytes((toy_dataset / name).read_bytes())
    lines = (toy_dataset / "test_texts.jsonl").read_text(encoding="utf-8").splitlines()
    stripped = [json.dumps({"text_id": json.loads(line)["text_id"], "text": json.loads(line)["text"]},
                           ensure_ascii=False) for line in lines]
    (root / "test_texts.jsonl").write_text("\n".join(stripped) + "\n", encoding="utf-8")
    config = tiny_config(data={"dataset": str(root)}).to_dict()
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "pred.jsonl"

    result = CliRunner().invoke(app, ["data", "predict", str(tmp_path / "c.yaml"), "--split", "test", "--top-k", "3",
                                      "--out", str(out), "--db", str(tmp_path / "x.db")])

    assert result.exit_code == 0, result.output
    assert "cannot be scored" in result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(lines)
    assert all(len(row["image_ids"]) == 3 for row in rows)
    assert rows[0]["text_id"] == json.loads(lines[0])["text_id"]


def test_resize_cache_serves_resized_images_and_trains(toy_dataset, tiny_config) -> None:
    config = tiny_config(data={"resize_cache": 24})
    split = load_split(config.data, "train")
    original = load_split(tiny_config().data, "train")

    image = split.load_image(split.image_ids[3])

    assert image.size == (24, 24)
    assert image.getpixel((12, 12)) == original.load_image(split.image_ids[3]).resize((24, 24)).getpixel((12, 12))
    assert run(config).steps_done == 6


def test_warnings_name_skipped_rows_and_unscorable_split() -> None:
    train = RetrievalSplit("train", [TextRecord(1, "a", (10,))], [10], _NoImages(), {"missing image": 2})
    unanswered = RetrievalSplit("test", [TextRecord(2, "b", ())], [20], _NoImages())

    warnings = data_warnings(train, unanswered)

    assert warnings[0] == "data.skip_bad: left out 2 rows (2 missing image) of split train"
    assert warnings[1].startswith("split test has no image_ids, so it cannot be scored")
    assert data_warnings(train, train) == [warnings[0], warnings[0]]
