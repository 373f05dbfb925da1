"""The dataset registry: names users give to dataset folders, so configs can set `data.dataset: NAME`.

`resolve_dataset` turns a registered name in a config into `data.root` and `data.format` before
the engine is called, because the engine itself never reads the store.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection
from sqlmodel import Field, SQLModel, select

from engine.config import ExperimentConfig
from engine.data.datasets import BUILT_IN, detect_format
from engine.data.records import DatasetError
from xmr_tui.i18n import _
from xmr_tui.store.models import utcnow

if TYPE_CHECKING:  # database.py may import this module to register the table, so no cycle at runtime
    from xmr_tui.store.database import Store

logger = logging.getLogger(__name__)


class RegisteredDataset(SQLModel, table=True):
    """A dataset folder recorded under a name by `xmr data register`."""

    __tablename__ = "dataset"

    name: str = Field(primary_key=True)  # what configs put in data.dataset
    path: str  # absolute folder path
    format: str  # "cnclip" or "plain", detected or given at registration
    created_at: datetime = Field(default_factory=utcnow)


def add_dataset_table(connection: Connection) -> None:
    """Migration: create the `dataset` table of registered dataset names."""
    RegisteredDataset.__table__.create(connection, checkfirst=True)


def register_dataset(store: Store, name: str, path: Path, fmt: str = "auto") -> RegisteredDataset:
    """Record (or re-point) `name` at a dataset folder, detecting its format when `fmt` is auto."""
    if name in BUILT_IN:
        raise DatasetError(_("{name!r} is a built-in dataset name; choose another name").format(name=name))
    folder = Path(path).expanduser().resolve()
    if not folder.is_dir():
        raise DatasetError(_("{folder} is not a folder; give the folder that contains the dataset files").format(
            folder=folder))
    entry = RegisteredDataset(name=name, path=str(folder), format=detect_format(folder, fmt))
    with store.write() as session:
        session.merge(entry)
    logger.info("registered dataset %s at %s (%s layout)", name, folder, entry.format)
    return entry


def get_dataset(store: Store, name: str) -> RegisteredDataset | None:
    """Return the registration of `name`, or None."""
    with store.read() as session:
        return session.get(RegisteredDataset, name)


def list_datasets(store: Store) -> list[RegisteredDataset]:
    """Return every registered dataset, by name."""
    with store.read() as session:
        return list(session.exec(select(RegisteredDataset).order_by(RegisteredDataset.name)))


def resolve_dataset(store: Store, config: ExperimentConfig) -> ExperimentConfig:
    """Return `config` with a registered `data.dataset` name turned into `data.root` and `data.format`.

    Built-in names, folder paths and configs that already set `data.root` come back unchanged.
    """
    data = config.data
    if data.root or data.dataset in BUILT_IN:
        return config
    entry = get_dataset(store, data.dataset)
    if entry is None:
        return config  # a folder path, or an unknown name that dataset_root will reject
    fmt = entry.format if data.format == "auto" else data.format
    resolved = dataclasses.replace(data, root=entry.path, format=fmt)
    return dataclasses.replace(config, data=resolved)
