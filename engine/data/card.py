"""The dataset card: what a built dataset contains, where it came from and under which licences.

A builder saves the card beside the data as `card.json` (read back by `read_card`) and as a
human-readable `README.md`; `xmr data info` prints `DatasetCard.to_markdown()`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.data.records import SPLIT_NAMES, DatasetError
from engine.messages import _

logger = logging.getLogger(__name__)

CARD_FILE = "card.json"
README_FILE = "README.md"


@dataclass(frozen=True)
class SourceInfo:
    """One upstream resource a builder looked for."""

    name: str  # e.g. "OpenMoji", "Noto Color Emoji"
    role: str  # what it contributes: "images" or "captions"
    found: bool  # False when it was not installed, so nothing was taken from it
    version: str | None
    path: str | None  # file or folder read; None when not found
    licence: str  # licence of the upstream resource, e.g. "CC BY-SA 4.0"


@dataclass(frozen=True)
class SplitCounts:
    """Sizes of one split."""

    concepts: int  # distinct emoji with at least one image and one caption
    images: int  # gallery size, the lines of {split}_imgs.tsv
    texts: int  # distinct captions, the lines of {split}_texts.jsonl


@dataclass
class DatasetCard:
    """Provenance and statistics of one built dataset, saved as card.json and README.md."""

    name: str
    builder_version: str  # bumped whenever the builder's output changes for the same inputs
    seed: int  # seed of the train/valid/test assignment
    image_size: int  # side of the square images, in pixels
    options: dict[str, Any]  # other build parameters that change the output (e.g. a concept limit)
    sources: list[SourceInfo]
    splits: dict[str, SplitCounts]
    concepts_with_multiple_images: int  # concepts drawn by two or more artworks
    # artwork name -> concepts it cannot draw (no glyph, or the same picture as the base emoji)
    missing_glyphs: dict[str, int]
    build_seconds: float
    description: str = ""  # markdown paragraph: what the data is and the attribution it requires
    notes: list[str] = field(default_factory=list)  # caveats shown in README.md

    def same_inputs(self, other: DatasetCard) -> bool:
        """Tell whether two builds used the same builder, parameters and sources."""
        return self._inputs() == other._inputs()

    def _inputs(self) -> tuple[Any, ...]:
        return (self.name, self.builder_version, self.seed, self.image_size, self.options, self.sources)

    def to_dict(self) -> dict[str, Any]:
        """Convert to plain JSON types."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetCard:
        """Rebuild a card from `to_dict` output; raises KeyError or TypeError on a bad shape."""
        values = dict(data)
        values["sources"] = [SourceInfo(**source) for source in data["sources"]]
        values["splits"] = {name: SplitCounts(**counts) for name, counts in data["splits"].items()}
        return cls(**values)

    def save(self, root: Path) -> None:
        """Write card.json and README.md into the dataset folder."""
        root = Path(root)
        card_text = json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"
        (root / CARD_FILE).write_text(card_text, encoding="utf-8")
        (root / README_FILE).write_text(self.to_markdown(), encoding="utf-8")

    def to_markdown(self) -> str:
        """Render the card as the markdown page that `xmr data info` prints."""
        sections = [
            f"# {self.name}\n",
            self.description,
            _splits_table(self.splits),
            self._build_summary(),
            "## Sources\n\n" + _sources_table(self.sources),
        ]
        if self.notes:
            sections.append("## Notes\n\n" + "\n".join(f"- {note}" for note in self.notes))
        return "\n\n".join(section.strip() for section in sections if section.strip()) + "\n"

    def _build_summary(self) -> str:
        lines = [
            f"- Builder version {self.builder_version}, seed {self.seed}, "
            f"{self.image_size}×{self.image_size} px RGB images, built in {self.build_seconds:.1f} s.",
            f"- {self.concepts_with_multiple_images} concepts have images from two or more artworks.",
        ]
        for artwork, count in sorted(self.missing_glyphs.items()):
            lines.append(f"- Artwork {artwork}: no usable glyph for {count} concepts.")
        for key, value in sorted(self.options.items()):
            if value is not None:
                lines.append(f"- Option {key}: {_format_option(value)}.")
        return "\n".join(lines)


def _format_option(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    return str(value)


def _splits_table(splits: dict[str, SplitCounts]) -> str:
    rows = ["| split | concepts | images | texts |", "|---|---:|---:|---:|"]
    ordered = [name for name in SPLIT_NAMES if name in splits]
    ordered += sorted(set(splits) - set(SPLIT_NAMES))
    for name in ordered:
        counts = splits[name]
        rows.append(f"| {name} | {counts.concepts} | {counts.images} | {counts.texts} |")
    return "\n".join(rows)


def _sources_table(sources: list[SourceInfo]) -> str:
    rows = ["| source | role | version | licence | location |", "|---|---|---|---|---|"]
    for source in sources:
        version = source.version or "–"
        location = f"`{source.path}`" if source.found and source.path else "not found"
        rows.append(f"| {source.name} | {source.role} | {version} | {source.licence} | {location} |")
    return "\n".join(rows)


def read_card(root: Path) -> DatasetCard:
    """Load `card.json` from a dataset folder; raises DatasetError if the dataset was not built."""
    path = Path(root) / CARD_FILE
    if not path.is_file():
        raise DatasetError(_("dataset not built: {path} not found; run `xmr data build emoji-zh`").format(path=path))
    try:
        return DatasetCard.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
        raise DatasetError(_("{path} is unreadable ({error}); run `xmr data build emoji-zh --force` to rebuild "
                             "it").format(path=path, error=f"{type(error).__name__}: {error}")) from None
