"""Decoding gallery images: base64 of either alphabet, any Pillow mode, always RGB out."""

from __future__ import annotations

import base64
import binascii
import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from engine.data.records import DatasetError

_BACKGROUND = (255, 255, 255)
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def decode_base64_image(encoded: bytes, where: str) -> Image.Image:
    """Decode base64 image bytes as RGB; raises DatasetError naming `where` when they are invalid."""
    encoded = encoded.strip()
    # Chinese-CLIP writes the URL-safe alphabet, other tools the standard one. Mapping '-' and
    # '_' onto '+' and '/' reads both, and missing '=' padding is restored first.
    encoded += b"=" * (-len(encoded) % 4)
    try:
        raw = base64.b64decode(encoded, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as error:
        raise DatasetError(f"{where}: invalid base64 ({error}); re-encode the image") from None
    return decode_image_bytes(raw, where)


def decode_image_bytes(raw: bytes, where: str) -> Image.Image:
    """Decode an image file's bytes as RGB; raises DatasetError when Pillow cannot read them."""
    try:
        image = Image.open(io.BytesIO(raw))
        image.load()
        return to_rgb(image)
    except UnidentifiedImageError:
        raise DatasetError(f"{where}: invalid image (no format that Pillow reads); "
                           "re-encode it") from None
    except (OSError, ValueError, SyntaxError) as error:
        # Pillow raises SyntaxError for some corrupt headers (e.g. truncated PNG chunks).
        raise DatasetError(f"{where}: cannot decode image ({error}); re-encode it") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any mode to RGB, flattening transparency onto white and scaling 16-bit grey to 8 bits."""
    if image.mode in _SIXTEEN_BIT_MODES:
        # Pillow's own conversion clips 16-bit values at 255, which turns most pixels white.
        pixels = np.asarray(image, dtype=np.uint32)
        image = Image.fromarray((pixels >> 8).clip(0, 255).astype(np.uint8), mode="L")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if not has_alpha:
        return image.convert("RGB")
    # A plain RGB conversion drops alpha and exposes whatever colour the transparent pixels
    # happen to hold (often black), so transparent images are flattened onto white.
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, _BACKGROUND + (255,))
    return Image.alpha_composite(background, rgba).convert("RGB")
