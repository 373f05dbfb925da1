"""Training-only augmentation of images and captions, chosen by name.

Image augmentations return a torchvision transform applied to the PIL image before resizing
and normalisation; text augmentations return a function ``(text, random.Random) → text``.
Both see only the training split, and their randomness comes from the run's seed.
"""

from __future__ import annotations

import random
from typing import Callable

from engine.registry import Registry

IMAGE_AUGMENTATIONS: Registry[Callable[[int], Callable | None]] = Registry("image_augment")
TEXT_AUGMENTATIONS: Registry[Callable[[], Callable[[str, random.Random], str] | None]] = Registry("text_augment")


@IMAGE_AUGMENTATIONS.register("none", help="no image augmentation")
def no_image_augmentation(image_size: int) -> None:
    return None


@TEXT_AUGMENTATIONS.register("none", help="no caption augmentation")
def no_text_augmentation() -> None:
    return None
