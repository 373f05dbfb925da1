"""Image and caption augmentations: seeded, meaning-preserving edits, training split only."""

from __future__ import annotations

import itertools
import random

import pytest
import torch
from PIL import Image

from engine.augment import IMAGE_AUGMENTATIONS, TEXT_AUGMENTATIONS, segment
from engine.data.pipeline import image_transform
from engine.synonyms_zh import SYNONYM_GROUPS, synonym_lookup

CAPTION = "开心的猫"   # jieba: 开心 / 的 / 猫, two of them with synonyms
SEEDS = range(40)


def augmented(name: str, text: str) -> list[str]:
    augment = TEXT_AUGMENTATIONS.get(name)()
    return [augment(text, random.Random(seed)) for seed in SEEDS]


def test_caption_segments_into_words():
    assert segment(CAPTION) == ["开心", "的", "猫"]


@pytest.mark.parametrize("name", ["synonym_replace", "random_delete", "word_shuffle"])
def test_text_augmentation_is_seeded(name):
    assert augmented(name, "一个开心的红色圆形笑脸") == augmented(name, "一个开心的红色圆形笑脸")


def test_synonym_replace_uses_table_groups_only():
    table = synonym_lookup()
    allowed = {"".join(words) for words in itertools.product(
        ("开心", *table["开心"]), ("的",), ("猫", *table["猫"]))}
    outputs = set(augmented("synonym_replace", CAPTION))
    assert outputs <= allowed
    assert len(outputs) > 1


def test_random_delete_keeps_an_ordered_nonempty_subset():
    words = segment("一个开心的红色圆形笑脸")
    outputs = augmented("random_delete", "一个开心的红色圆形笑脸")
    for output in outputs:
        kept = segment_words(output, words)
        assert kept
        assert is_subsequence(kept, words)
    assert any(len(segment_words(o, words)) < len(words) for o in outputs)


def is_subsequence(part: list[str], whole: list[str]) -> bool:
    position = 0
    for word in part:
        while position < len(whole) and whole[position] != word:
            position += 1
        if position == len(whole):
            return False
        position += 1
    return True


def segment_words(output: str, vocabulary: list[str]) -> list[str]:
    """Split ``output`` back into ``vocabulary`` words greedily (they never share a prefix here)."""
    found, rest = [], output
    while rest:
        word = next(w for w in vocabulary if rest.startswith(w))
        found.append(word)
        rest = rest[len(word):]
    return found


def test_word_shuffle_keeps_the_same_words():
    words = sorted(segment("一个开心的红色圆形笑脸"))
    outputs = augmented("word_shuffle", "一个开心的红色圆形笑脸")
    assert all(sorted(segment_words(o, words)) == words for o in outputs)
    assert any(o != "一个开心的红色圆形笑脸" for o in outputs)


def test_synonym_table_groups_are_disjoint():
    words = [word for group in SYNONYM_GROUPS for word in group]
    assert len(words) == len(set(words))
    assert all(len(set(group)) >= 2 for group in SYNONYM_GROUPS)


def picture() -> Image.Image:
    image = Image.new("RGB", (48, 48), (255, 255, 255))
    image.paste((200, 30, 30), (10, 10, 30, 40))
    return image


@pytest.mark.parametrize("name", ["light", "geometric"])
def test_image_augmentation_is_seeded_and_changes_pixels(name):
    transform = image_transform(32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), IMAGE_AUGMENTATIONS.get(name)(32))
    plain = image_transform(32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    outputs = []
    for _ in range(2):
        torch.manual_seed(3)
        outputs.append(transform(picture()))
    assert outputs[0].shape == (3, 32, 32)
    assert torch.equal(outputs[0], outputs[1])
    assert not torch.equal(outputs[0], plain(picture()))


def test_no_augmentation_is_none():
    assert IMAGE_AUGMENTATIONS.get("none")(32) is None
    assert TEXT_AUGMENTATIONS.get("none")() is None
