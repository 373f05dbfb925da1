"""In-memory records that every dataset reader returns to the engine.

A reader turns one split of a dataset on disk into a `RetrievalSplit`: the caption texts, each
linked to its matching gallery images, and a gallery whose images are decoded only when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from PIL import Image

SPLIT_NAMES = ("train", "valid", "test")


class DatasetError(ValueError):
    """A dataset on disk is missing, malformed or was never built."""


@dataclass(frozen=True, slots=True)  # slots: a 100k-caption split is 100k of these
class TextRecord:
    """One caption and the gallery images it describes."""

    text_id: int
    text: str
    image_ids: tuple[int, ...]  # empty for splits distributed without ground truth


class ImageStore(Protocol):
    """A gallery that decodes one image on request and can be pickled into DataLoader workers."""

    def load(self, image_id: int) -> Image.Image:
        """Decode the image with this id as RGB."""
        ...


@dataclass
class RetrievalSplit:
    """One split of a dataset: texts plus a lazily decoded image gallery."""

    name: str  # "train", "valid" or "test"
    texts: list[TextRecord]
    image_ids: list[int]  # gallery order, as stored on disk
    images: ImageStore
    skipped: dict[str, int] = field(default_factory=dict)  # problem kind -> rows left out (--skip-bad)

    def load_image(self, image_id: int) -> Image.Image:
        """Decode one gallery image as RGB."""
        return self.images.load(image_id)
