"""Fixtures of the dashboard tests: a temporary store, a small configs folder, English by default."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from xmr_tui.i18n import set_language
from xmr_tui.store.database import Store

REPO_CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "experiments.db"


@pytest.fixture
def store(db_path: Path):
    store = Store(db_path)
    yield store
    store.close()


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    """A configs folder with the two demo presets (stable across branches for snapshots)."""
    folder = tmp_path / "configs"
    folder.mkdir()
    for name in ("demo_baseline.yaml", "demo_learnable_temp.yaml"):
        shutil.copy(REPO_CONFIGS / name, folder / name)
    return folder


@pytest.fixture(autouse=True)
def english():
    """Run each test in English and restore English afterwards."""
    set_language("en")
    yield
    set_language("en")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
