"""Resolve a config's dataset to a folder and format, and load its splits.

``emoji-zh`` resolves to its build folder. Any other value is a folder in the Chinese-CLIP
layout (``{split}_texts.jsonl`` with ``{split}_imgs.tsv`` or ``lmdb/{split}/``) or the plain
layout (``*captions.jsonl`` / ``*captions.csv`` beside image files). Names registered in the
store are resolved by the caller (CLI or worker), which sets ``data.root`` and ``data.format``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from engine.config import DataConfig
from engine.data.problems import ProblemLog
from engine.data.records import DatasetError, RetrievalSplit
from engine.messages import _

logger = logging.getLogger(__name__)

BUILT_IN = ("emoji-zh",)
FORMATS = ("auto", "cnclip", "plain")


def dataset_root(config: DataConfig) -> Path:
    """Return the dataset folder for ``config``, or raise DatasetError saying how to get it."""
    if config.root:
        return Path(config.root).expanduser()
    if config.dataset == "emoji-zh":
        from engine.data.emoji_zh import default_root

        return default_root()
    path = Path(config.dataset).expanduser()
    if path.is_dir():
        return path
    raise DatasetError(_("data.dataset: {name!r} is neither a built-in dataset ({built_in}) nor a folder; "
                         "register it with `xmr data register NAME PATH` or give its path").format(
        name=config.dataset, built_in=", ".join(BUILT_IN)))


def detect_format(root: Path, requested: str = "auto") -> str:
    """Return `cnclip` or `plain` for a dataset folder; raise DatasetError when neither fits."""
    from engine.data import cnclip, plain

    root = Path(root)
    if requested not in FORMATS:
        raise DatasetError(_("format {value!r} is invalid; allowed: {allowed}").format(value=requested,
                                                                                      allowed=", ".join(FORMATS)))
    if requested != "auto":
        return requested
    if cnclip.list_splits(root):
        return "cnclip"
    if root.is_dir() and plain.is_plain(root):
        return "plain"
    raise DatasetError(_("{root}: no dataset files found; expected {texts} with {images} or {lmdb} (Chinese-CLIP), "
                         "or *captions.jsonl/csv (plain)").format(root=root, texts="{split}_texts.jsonl",
                                                                 images="{split}_imgs.tsv", lmdb="lmdb/{split}/"))


def list_splits(root: Path, fmt: str = "auto") -> list[str]:
    """Return the split names present in a dataset folder."""
    from engine.data import cnclip, plain

    return cnclip.list_splits(root) if detect_format(root, fmt) == "cnclip" else plain.list_splits(root)


def read_split(
    root: Path, split: str, fmt: str = "auto", *, skip_bad: bool = False, check_images: bool = False,
    require_images: bool = False, workers: int = 0, problems: ProblemLog | None = None,
) -> RetrievalSplit:
    """Load one split of a dataset folder in either layout (see `cnclip.load_split` for the keywords)."""
    from engine.data import cnclip, plain

    if detect_format(root, fmt) == "plain":
        return plain.load_split(root, split, skip_bad=skip_bad, check_images=check_images,
                                require_images=require_images, problems=problems)
    return cnclip.load_split(root, split, skip_bad=skip_bad, check_images=check_images,
                             require_images=require_images, workers=workers, problems=problems)


def load_split(config: DataConfig, split: str) -> RetrievalSplit:
    """Load and validate one split for a run, raising a DatasetError that names the problem and fix.

    Every image is decoded once to find undecodable ones (cached until the file changes), and
    texts without images are errors in the training split only. With ``data.skip_bad`` the bad
    rows are left out and counted in ``RetrievalSplit.skipped``. With ``data.resize_cache`` the
    images come from a cache of resized copies.
    """
    root = dataset_root(config)
    if config.dataset == "emoji-zh" and not config.root and not root.is_dir():
        raise DatasetError(_("{root}: not found; run `xmr data build emoji-zh`").format(root=root))
    loaded = read_split(root, split, config.format, skip_bad=config.skip_bad, check_images=True,
                        require_images=split == config.train_split, workers=config.num_workers)
    if config.resize_cache:
        from engine.data.resize_cache import with_resize_cache

        loaded = with_resize_cache(loaded, config.resize_cache)
    return loaded


def data_warnings(train_split: RetrievalSplit, eval_split: RetrievalSplit) -> list[str]:
    """Return the warnings a run reports about its data: rows left out, and an unscorable eval split."""
    warnings = []
    for split in (train_split, eval_split):
        if split.skipped:  # only non-empty with data.skip_bad, because loading raises otherwise
            total = sum(split.skipped.values())
            kinds = ", ".join(f"{count} {kind}" for kind, count in split.skipped.items())
            warnings.append(f"data.skip_bad: left out {total} rows ({kinds}) of split {split.name}")
    if not any(text.image_ids for text in eval_split.texts):
        warnings.append(f"split {eval_split.name} has no image_ids, so it cannot be scored; "
                        "export its predictions with `xmr data predict` instead")
    return warnings
