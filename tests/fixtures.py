"""Tiny synthetic datasets in the Chinese-CLIP layout for fast end-to-end tests.

Each concept is a solid colour with a distinct shape position, captioned in Chinese, so a
small model can learn the pairing in a few dozen steps.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw

from engine.data import cnclip
from engine.data.records import TextRecord

COLOURS = [("红色", (220, 30, 30)), ("绿色", (30, 180, 60)), ("蓝色", (30, 60, 220)), ("黄色", (240, 220, 30)),
           ("紫色", (140, 40, 180)), ("橙色", (250, 140, 20)), ("黑色", (20, 20, 20)), ("灰色", (128, 128, 128))]
SHAPES = ["圆形", "方块"]


def _png(colour: tuple[int, int, int], shape: str, variant: int, size: int = 48) -> bytes:
    image = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    box = (6 + variant * 4, 6 + variant * 4, size - 6, size - 6)
    (draw.ellipse if shape == "圆形" else draw.rectangle)(box, fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def write_toy_dataset(root: Path, images_per_concept: int = 2) -> Path:
    """Write train/valid/test splits of 16 colour-shape concepts; returns ``root``."""
    concepts = [(name, rgb, shape) for name, rgb in COLOURS for shape in SHAPES]
    splits = {"train": concepts, "valid": concepts[:8], "test": concepts[8:]}
    next_image, next_text = 1000, 1
    for split, members in splits.items():
        texts, images = [], []
        for name, rgb, shape in members:
            ids = []
            for variant in range(images_per_concept):
                images.append((next_image, _png(rgb, shape, variant)))
                ids.append(next_image)
                next_image += 1
            for caption in (f"一个{name}的{shape}", f"{name}{shape}"):
                texts.append(TextRecord(text_id=next_text, text=caption, image_ids=tuple(ids)))
                next_text += 1
        cnclip.write_split(root, split, texts, images)
    return root
