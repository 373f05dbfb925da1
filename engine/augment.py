"""Training-only augmentation of images and captions, chosen by name.

Image augmentations return a torchvision transform applied to the uint8 image tensor before
resizing and normalisation; text augmentations return a function ``(text, random.Random) → text``.
Both see only the training split. Their randomness comes from the run's seed and the sample's
global position (``PairDataset`` seeds torch and the ``random.Random`` per sample), so a re-run
or resumed step gets the same augmented batch.

Text augmentations work on words: captions are segmented with jieba, edited, and joined again
without spaces, as Chinese is written. Synonyms come from the hand-curated table in
``engine.synonyms_zh``.
"""

from __future__ import annotations

import logging
import random
from functools import lru_cache
from typing import Callable

from torchvision.transforms import v2 as transforms

from engine.registry import Registry
from engine.synonyms_zh import synonym_lookup

IMAGE_AUGMENTATIONS: Registry[Callable[[int], Callable | None]] = Registry("image_augment")
TEXT_AUGMENTATIONS: Registry[Callable[[], Callable[[str, random.Random], str] | None]] = Registry("text_augment")

# Rendered emoji and most product photos sit on white, so geometric transforms fill with white
# rather than with black corners the model could learn as a cue.
WHITE = 255

# Per-word probabilities of the text edits; low enough that a short caption keeps its meaning.
SYNONYM_PROBABILITY = 0.3
DELETE_PROBABILITY = 0.15


# --- images ----------------------------------------------------------------------------------

@IMAGE_AUGMENTATIONS.register("none", help="no image augmentation")
def no_image_augmentation(image_size: int) -> None:
    return None


@IMAGE_AUGMENTATIONS.register("light", help="random resized crop (60–100 % area), horizontal flip, colour jitter")
def light_image_augmentation(image_size: int) -> Callable:
    return transforms.Compose([
        transforms.RandomResizedCrop(image_size, scale=(0.6, 1.0), antialias=True),
        transforms.RandomHorizontalFlip(),
        transforms.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05),
    ])


@IMAGE_AUGMENTATIONS.register("geometric", help="rotation up to 15°, slight affine (±10 % shift, 0.9–1.1 scale, 5° shear)")
def geometric_image_augmentation(image_size: int) -> Callable:
    return transforms.Compose([
        transforms.RandomRotation(15, interpolation=transforms.InterpolationMode.BILINEAR, fill=WHITE),
        transforms.RandomAffine(degrees=0, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5,
                                interpolation=transforms.InterpolationMode.BILINEAR, fill=WHITE),
    ])


# --- captions --------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)  # jieba prints its dictionary loading at INFO
    return jieba


def segment(text: str) -> list[str]:
    """Split a caption into jieba words (deterministic: jieba's default dictionary, HMM on)."""
    return [word for word in _jieba().lcut(text) if word.strip()]


@TEXT_AUGMENTATIONS.register("none", help="no caption augmentation")
def no_text_augmentation() -> None:
    return None


@TEXT_AUGMENTATIONS.register("synonym_replace", help="replace words by synonyms from the shipped table (p=0.3 each)")
def synonym_replace_augmentation() -> Callable[[str, random.Random], str]:
    lookup = synonym_lookup()

    def augment(text: str, rng: random.Random) -> str:
        words = segment(text)
        for i, word in enumerate(words):
            options = lookup.get(word)
            if options and rng.random() < SYNONYM_PROBABILITY:
                words[i] = rng.choice(options)
        return "".join(words)

    return augment


@TEXT_AUGMENTATIONS.register("random_delete", help="drop each word with p=0.15, always keeping one")
def random_delete_augmentation() -> Callable[[str, random.Random], str]:
    def augment(text: str, rng: random.Random) -> str:
        words = segment(text)
        kept = [word for word in words if rng.random() >= DELETE_PROBABILITY]
        if not kept and words:
            kept = [rng.choice(words)]
        return "".join(kept)

    return augment


@TEXT_AUGMENTATIONS.register("word_shuffle", help="swap two random words (one swap per 5 words, at least one)")
def word_shuffle_augmentation() -> Callable[[str, random.Random], str]:
    # Swaps rather than a full permutation: a short caption keeps most of its word order.
    def augment(text: str, rng: random.Random) -> str:
        words = segment(text)
        if len(words) < 2:
            return text
        for _ in range(max(1, len(words) // 5)):
            i, j = rng.sample(range(len(words)), 2)
            words[i], words[j] = words[j], words[i]
        return "".join(words)

    return augment
