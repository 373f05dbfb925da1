"""Fixtures of the dashboard tests: a temporary store, a small configs folder, English by default."""

from __future__ import annotations

from pathlib import Path

import pytest

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


# Written here rather than copied from configs/, so that tuning the real demo presets does not
# change the snapshots.
PRESETS = {
    "demo_baseline.yaml": (
        "data: {dataset: emoji-zh}\n"
        "text: {backbone: use-m3}\n"
        "image: {backbone: efficientnet_lite0, image_size: 128}\n"
        "similarity: {kind: cosine, temperature: 0.07, learnable: fixed}\n"
        "train: {steps: 300, batch_size: 256, seed: 0, log_every: 25}\n"),
    "demo_learnable_temp.yaml": "extends: demo_baseline.yaml\nsimilarity: {learnable: shared}\n",
}


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    """A configs folder with two small presets, one with a fixed and one with a learned τ."""
    folder = tmp_path / "configs"
    folder.mkdir()
    for name, text in PRESETS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
