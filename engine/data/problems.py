"""Problems found in a dataset's files, each with its kind and `file:line` location.

Readers add every bad row to a `ProblemLog` instead of raising at the first one, so a single pass
reports all of them. The log keeps the first few examples of each kind and counts the rest, so
its memory stays bounded however many rows are bad.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from engine.data.records import DatasetError
from engine.messages import N_, _

EXAMPLES_PER_KIND = 5  # locations printed per kind before "… and N more"


class ProblemKind(str, enum.Enum):
    """Kind of bad row. The value is the label that `xmr data check` prints."""

    malformed_line = N_("malformed line")  # invalid JSON, CSV or tsv syntax, or a field of the wrong type
    empty_caption = N_("empty caption")  # a caption that is empty or only whitespace
    duplicate_text_id = N_("duplicate text_id")
    duplicate_image_id = N_("duplicate image_id")
    missing_image = N_("missing image")  # a text lists an image id (or file) that the gallery lacks
    text_without_images = N_("text without images")  # only an error in a training split
    bad_image = N_("undecodable image")  # invalid base64, or bytes that are no readable image


@dataclass(frozen=True)
class Problem:
    """One bad row."""

    kind: ProblemKind
    path: str  # file that contains the row
    line: int  # 1-based line number in that file
    message: str  # what is wrong, without the location

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class ProblemLog:
    """Counts of problems per kind, with the first `EXAMPLES_PER_KIND` examples of each."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[ProblemKind, list[Problem]] = field(default_factory=dict)

    def add(self, kind: ProblemKind, path: object, line: int, message: str) -> None:
        """Record one bad row."""
        self.counts[kind] += 1
        kept = self.examples.setdefault(kind, [])
        if len(kept) < EXAMPLES_PER_KIND:
            kept.append(Problem(kind, str(path), line, message))

    def extend(self, other: ProblemLog) -> None:
        """Add every count and example of another log."""
        for kind, count in other.counts.items():
            self.counts[kind] += count
            kept = self.examples.setdefault(kind, [])
            room = EXAMPLES_PER_KIND - len(kept)
            kept.extend(other.examples.get(kind, [])[:room])

    def total(self) -> int:
        """Return the number of bad rows of every kind."""
        return sum(self.counts.values())

    def __bool__(self) -> bool:
        return self.total() > 0

    def first(self) -> Problem | None:
        """Return the first example, in `ProblemKind` order."""
        for kind in ProblemKind:
            if self.examples.get(kind):
                return self.examples[kind][0]
        return None

    def report_lines(self) -> list[str]:
        """Render one heading per kind, its example locations, then how many more there are."""
        lines = []
        for kind in ProblemKind:
            count = self.counts.get(kind, 0)
            if not count:
                continue
            lines.append(f"{_(kind.value)}: {count}")
            shown = self.examples.get(kind, [])
            lines.extend(f"  {problem}" for problem in shown)
            if count > len(shown):
                lines.append("  " + _("… and {count} more").format(count=count - len(shown)))
        return lines

    def summary(self) -> str:
        """Return the counts on one line, e.g. `2 missing image, 1 empty caption`."""
        return ", ".join(f"{self.counts[kind]} {_(kind.value)}" for kind in ProblemKind if self.counts.get(kind))

    def raise_if_any(self, source: object, hint: str) -> None:
        """Raise a one-line DatasetError naming the counts, the first location and `hint`."""
        first = self.first()
        if first is None:
            return
        raise DatasetError(_("{source}: {summary}; first: {first}; {hint}").format(
            source=source, summary=self.summary(), first=first, hint=_(hint)))

    def to_json(self) -> dict[str, Any]:
        """Convert to plain JSON types, for the index cache."""
        return {
            "counts": {kind.name: count for kind, count in self.counts.items()},
            "examples": [
                [p.kind.name, p.path, p.line, p.message] for kept in self.examples.values() for p in kept
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProblemLog:
        """Rebuild a log from `to_json` output."""
        log = cls(counts=Counter({ProblemKind[name]: count for name, count in data["counts"].items()}))
        for kind_name, path, line, message in data["examples"]:
            kind = ProblemKind[kind_name]
            log.examples.setdefault(kind, []).append(Problem(kind, path, line, message))
        return log
