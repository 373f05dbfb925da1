"""Resolve a config's dataset to a folder and load its splits.

``emoji-zh`` resolves to its build folder; any other value is a folder in the Chinese-CLIP
layout (``{split}_texts.jsonl`` + ``{split}_imgs.tsv``). Names registered in the store are
resolved by the caller (CLI or worker), which sets ``data.root``.
"""

from __future__ import annotations

from pathlib import Path

from engine.config import DataConfig
from engine.data.records import DatasetError, RetrievalSplit

BUILT_IN = ("emoji-zh",)


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
    raise DatasetError(f"data.dataset: {config.dataset!r} is neither a built-in dataset "
                       f"({', '.join(BUILT_IN)}) nor a folder; register it with "
                       "`xmr data register NAME PATH` or give its path")


def load_split(config: DataConfig, split: str) -> RetrievalSplit:
    """Load one split, raising a DatasetError that names the missing file and the fix."""
    from engine.data import cnclip

    root = dataset_root(config)
    if not (root / f"{split}_texts.jsonl").is_file():
        hint = "run `xmr data build emoji-zh`" if config.dataset == "emoji-zh" else "check data.dataset"
        raise DatasetError(f"{root / f'{split}_texts.jsonl'}: not found; {hint}")
    return cnclip.load_split(root, split)
