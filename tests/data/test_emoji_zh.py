"""Tests of the emoji-zh builder on a few dozen concepts, plus its grouping and split rules."""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path

import pytest

from engine.data import cnclip, emoji_zh
from engine.data.card import read_card
from engine.data.emoji_zh import EmojiSources, assign_splits, build_emoji_zh, group_key
from engine.data.records import SPLIT_NAMES, DatasetError

# Enough groups to fill all three splits, with several multi-member groups: skin tones of 👍,
# gendered astronauts, and flags that Noto draws identically (Norway, Bouvet, Svalbard).
SAMPLE = [
    "😀", "😂", "☺️", "🐱", "🐶", "🍎", "🚗", "⚽", "🌈", "🎉", "❤️", "🫩",
    "👍", "👍🏻", "👍🏼", "👍🏽", "👍🏾", "👍🏿",
    "🧑‍🚀", "👩‍🚀", "👨‍🚀", "👩🏽‍🚀",
    "🇨🇳", "🇳🇴", "🇧🇻", "🇸🇯", "🏳️‍🌈", "🏴󠁧󠁢󠁥󠁮󠁧󠁿", "#️⃣",
]
DATA_FILES = [f"{split}_{kind}" for split in SPLIT_NAMES for kind in ("texts.jsonl", "imgs.tsv")]
CJK = re.compile(r"[\u4e00-\u9fff]")
NOTO_INSTALLED = emoji_zh.DEFAULT_NOTO_FONT.is_file()


def build(root: Path, **options) -> emoji_zh.DatasetCard:
    return build_emoji_zh(root, only=SAMPLE, workers=1, **options)


def read_concepts(root: Path) -> list[dict]:
    lines = (root / emoji_zh.CONCEPTS_FILE).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("datasets") / "emoji-zh"
    build(root)
    return root


def test_build_writes_chinese_clip_layout(built: Path) -> None:
    for name in DATA_FILES + ["concepts.jsonl", "card.json", "README.md"]:
        assert (built / name).is_file(), name
    leftovers = [path.name for path in built.parent.iterdir() if path.name.startswith(".")]
    assert leftovers == []


def test_build_fills_every_split(built: Path) -> None:
    card = read_card(built)

    for split in SPLIT_NAMES:
        assert card.splits[split].concepts > 0, split
        assert card.splits[split].images > 0, split
        assert card.splits[split].texts > 0, split


def test_text_image_ids_exist_in_same_split(built: Path) -> None:
    for split_name in SPLIT_NAMES:
        split = cnclip.load_split(built, split_name)
        gallery = set(split.image_ids)
        for record in split.texts:
            assert record.image_ids, record
            assert set(record.image_ids) <= gallery, record


def test_captions_are_chinese_and_distinct(built: Path) -> None:
    for split_name in SPLIT_NAMES:
        texts = [record.text for record in cnclip.load_split(built, split_name).texts]
        assert len(texts) == len(set(texts)), split_name
        for text in texts:
            assert CJK.search(text), text


def test_text_ids_are_unique_across_splits(built: Path) -> None:
    ids = [r.text_id for s in SPLIT_NAMES for r in cnclip.load_split(built, s).texts]

    assert len(ids) == len(set(ids))


def test_images_decode_to_square_rgb(built: Path) -> None:
    for split_name in SPLIT_NAMES:
        split = cnclip.load_split(built, split_name)
        for image_id in split.image_ids:
            image = split.load_image(image_id)
            assert image.mode == "RGB"
            assert image.size == (128, 128)
            assert image.getextrema() != ((255, 255), (255, 255), (255, 255)), image_id


def test_no_group_straddles_splits(built: Path) -> None:
    splits_of_group = collections.defaultdict(set)
    for row in read_concepts(built):
        splits_of_group[row["group"]].add(row["split"])

    assert len(splits_of_group["👍"]) == 1
    assert len(splits_of_group["🧑‍🚀"]) == 1
    for group, splits in splits_of_group.items():
        assert len(splits) == 1, group


def test_variants_share_one_group(built: Path) -> None:
    groups = {row["emoji"]: row["group"] for row in read_concepts(built)}

    assert {groups[e] for e in ["👍", "👍🏻", "👍🏿"]} == {"👍"}
    assert {groups[e] for e in ["🧑‍🚀", "👩‍🚀", "👨‍🚀", "👩🏽‍🚀"]} == {"🧑‍🚀"}


@pytest.mark.skipif(not NOTO_INSTALLED, reason="needs Noto Color Emoji, which draws these flags alike")
def test_identical_images_are_stored_once(built: Path) -> None:
    rows = read_concepts(built)
    noto_image = {row["emoji"]: row["image_id"] for row in rows if row["artwork"] == "noto"}
    split_of = {row["emoji"]: row["split"] for row in rows}

    assert noto_image["🇳🇴"] == noto_image["🇸🇯"]
    assert split_of["🇳🇴"] == split_of["🇸🇯"]


def test_most_concepts_have_two_artworks(built: Path) -> None:
    card = read_card(built)
    artworks = {row["artwork"] for row in read_concepts(built)}

    assert "openmoji" in artworks
    if NOTO_INSTALLED:
        assert artworks == {"openmoji", "noto"}
        assert card.concepts_with_multiple_images >= len(SAMPLE) - 3


def test_same_seed_builds_identical_files(built: Path, tmp_path: Path) -> None:
    again = tmp_path / "emoji-zh"
    build(again)

    for name in DATA_FILES + ["concepts.jsonl"]:
        assert (again / name).read_bytes() == (built / name).read_bytes(), name


def test_other_seed_changes_split_assignment(built: Path, tmp_path: Path) -> None:
    other = tmp_path / "emoji-zh"
    build(other, seed=1)

    split_of = {row["emoji"]: row["split"] for row in read_concepts(built)}
    other_split_of = {row["emoji"]: row["split"] for row in read_concepts(other)}
    assert split_of.keys() == other_split_of.keys()
    assert split_of != other_split_of


def test_rebuild_with_same_inputs_is_skipped(built: Path) -> None:
    before = (built / "train_imgs.tsv").stat().st_mtime_ns

    card = build(built)

    assert (built / "train_imgs.tsv").stat().st_mtime_ns == before
    assert card.same_inputs(read_card(built))


def test_force_rebuilds_in_place(tmp_path: Path) -> None:
    root = tmp_path / "emoji-zh"
    build(root)
    (root / "stale.txt").write_text("left from an older build", encoding="utf-8")

    build(root, force=True)

    assert not (root / "stale.txt").exists()
    assert (root / "card.json").is_file()
    assert [path.name for path in tmp_path.iterdir()] == ["emoji-zh"]


def test_build_refuses_folder_that_is_not_a_dataset(tmp_path: Path) -> None:
    root = tmp_path / "emoji-zh"
    root.mkdir()
    (root / "notes.txt").write_text("unrelated", encoding="utf-8")

    with pytest.raises(DatasetError, match="is not a built dataset"):
        build(root)

    assert (root / "notes.txt").is_file()
    assert [path.name for path in tmp_path.iterdir()] == ["emoji-zh"]


def test_build_without_noto_and_cldr(tmp_path: Path) -> None:
    sources = EmojiSources.discover()
    missing = EmojiSources(sources.openmoji_font, tmp_path / "absent.ttf", tmp_path / "no-cldr")

    card = build(tmp_path / "emoji-zh", sources=missing)

    found = {source.name: source.found for source in card.sources}
    assert found["Noto Color Emoji"] is False
    assert found["Unicode CLDR annotations (zh)"] is False
    assert found["OpenMoji"] is True
    assert card.concepts_with_multiple_images == 0
    assert sum(counts.concepts for counts in card.splits.values()) > 0
    assert any("keyword" in note for note in card.notes)


def test_build_without_raqm_skips_sequences(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emoji_zh.features, "check_feature", lambda feature: False)

    build(tmp_path / "emoji-zh")

    emojis = {row["emoji"] for row in read_concepts(tmp_path / "emoji-zh")}
    assert "😀" in emojis
    assert "☺️" in emojis
    assert "👍🏿" not in emojis
    assert "🇨🇳" not in emojis


def test_parallel_rendering_matches_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    sources = EmojiSources.discover()
    artworks, _ = emoji_zh.find_artworks(sources)
    concepts = emoji_zh.load_concepts(emoji_zh.load_cldr(sources.cldr_dir), only=SAMPLE)
    monkeypatch.setattr(emoji_zh, "_MIN_CONCEPTS_PER_WORKER", 5)
    progress = []

    parallel = emoji_zh.render_concepts(
        concepts, artworks, 128, workers=2, progress=lambda done, total: progress.append((done, total))
    )
    serial = emoji_zh.render_concepts(concepts, artworks, 128, workers=1)

    assert parallel == serial
    assert progress[-1] == (len(concepts), len(concepts))


def test_unknown_only_entry_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not fully-qualified emoji"):
        build_emoji_zh(tmp_path / "emoji-zh", only=["☺", "x"])


def test_invalid_image_size_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="image_size must be between 16 and 1024 pixels, got 8"):
        build(tmp_path / "emoji-zh", image_size=8)


def test_read_card_unbuilt_gives_build_command(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="xmr data build emoji-zh"):
        read_card(tmp_path)


def test_card_markdown_lists_sources_and_licences(built: Path) -> None:
    markdown = read_card(built).to_markdown()

    assert markdown.startswith("# emoji-zh\n")
    assert "| train |" in markdown
    assert "CC BY-SA 4.0" in markdown
    assert "OpenMoji" in markdown
    assert (built / "README.md").read_text(encoding="utf-8") == markdown


@pytest.mark.parametrize(
    ("emoji", "expected"),
    [
        ("😀", "😀"),
        ("👍🏿", "👍"),
        ("☺️", "☺"),
        ("👩🏽‍🚀", "🧑‍🚀"),
        ("👨‍🦰", "🧑"),
        ("🧑🏻‍🦳", "🧑"),
        ("👱‍♀️", "👱"),
        ("🏃🏾‍♀️‍➡️", "🏃"),
        ("👨‍👩‍👧‍👦", "👪"),
        ("👩‍👦", "👪"),
        ("👩🏻‍❤️‍💋‍👨🏿", "💏"),
        ("💏🏻", "💏"),
        ("👫🏽", "🧑‍🤝‍🧑"),
        ("🫱🏻‍🫲🏿", "🤝"),
        ("🤶🏼", "🧑‍🎄"),
        ("🏳️‍🌈", "🏳‍🌈"),
        ("♀️", "♀"),
    ],
)
def test_group_key_strips_variant_choices(emoji: str, expected: str) -> None:
    assert group_key(emoji) == expected


def test_assign_splits_is_balanced_and_seeded() -> None:
    sizes = {f"group-{index}": 1 + index % 5 for index in range(1000)}
    total = sum(sizes.values())

    splits = assign_splits(sizes, seed=0)
    concepts = collections.Counter()
    for group, split in splits.items():
        concepts[split] += sizes[group]

    assert abs(concepts["train"] / total - 0.8) < 0.01
    assert abs(concepts["valid"] / total - 0.1) < 0.01
    assert abs(concepts["test"] / total - 0.1) < 0.01
    assert assign_splits(sizes, seed=0) == splits
    assert assign_splits(sizes, seed=1) != splits
