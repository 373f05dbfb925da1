"""`check_dataset`: find every bad row of every split before any training starts.

This is what `xmr data check` runs. It reads each split the way training does, with every
image decoded, but collects the problems instead of stopping at the first one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from engine.data.datasets import detect_format, list_splits, read_split
from engine.data.problems import ProblemLog
from engine.messages import _

logger = logging.getLogger(__name__)

TRAINING_SPLITS = ("train",)  # splits whose texts must each have at least one image


@dataclass
class SplitCheck:
    """The result of checking one split."""

    split: str
    texts: int  # good texts
    images: int  # good images
    unanswered: int  # texts without image ids; such a split can be predicted but not scored
    problems: ProblemLog


@dataclass
class DatasetCheck:
    """The result of checking every split of a dataset folder."""

    root: Path
    format: str
    splits: list[SplitCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Tell whether no split has a problem."""
        return not any(check.problems for check in self.splits)

    def report_lines(self) -> list[str]:
        """Render the per-split counts and problems that `xmr data check` prints."""
        lines = [_("{root} ({layout} layout)").format(root=self.root, layout=self.format)]
        for check in self.splits:
            status = _("ok") if not check.problems else _("{count} problems").format(count=check.problems.total())
            lines.append(_("split {split}: {texts} texts, {images} images, {status}").format(
                split=check.split, texts=check.texts, images=check.images, status=status))
            if check.unanswered:
                lines.append("  " + _("{count} texts have no image_ids: they can be predicted, not scored").format(
                    count=check.unanswered))
            lines.extend(f"  {line}" for line in check.problems.report_lines())
        return lines


def check_dataset(root: Path, fmt: str = "auto", *, workers: int = 0,
                  splits: list[str] | None = None) -> DatasetCheck:
    """Check every split (or the named ones), decoding every image; `workers` > 0 uses processes."""
    root = Path(root)
    found_format = detect_format(root, fmt)
    result = DatasetCheck(root, found_format)
    for split in splits or list_splits(root, found_format):
        problems = ProblemLog()
        loaded = read_split(root, split, found_format, skip_bad=True, check_images=True,
                            require_images=split in TRAINING_SPLITS, workers=workers, problems=problems)
        unanswered = sum(1 for text in loaded.texts if not text.image_ids)
        result.splits.append(SplitCheck(split, len(loaded.texts), len(loaded.image_ids), unanswered, problems))
        logger.info("checked split %s of %s: %s", split, root, problems.summary() or "no problems")
    return result
