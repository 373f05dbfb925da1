"""Shared fixtures: a tiny Chinese-CLIP-layout dataset and small configs that train in seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.config import ExperimentConfig, config_from_dict, deep_merge
from tests.fixtures import write_toy_dataset
from xmr_tui.i18n import set_language


@pytest.fixture(scope="session")
def toy_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_dataset(tmp_path_factory.mktemp("toy"))


@pytest.fixture
def tiny_config(toy_dataset: Path):
    """Return a factory of small validated configs on the toy dataset, with overrides merged in."""

    def make(**sections: Any) -> ExperimentConfig:
        base = {
            "name": "tiny",
            "data": {"dataset": str(toy_dataset)},
            "text": {"backbone": "tiny-bert-zh", "max_length": 16},
            "image": {"backbone": "efficientnet_lite0", "image_size": 32},
            "head": {"embed_dim": 32, "hidden_dim": 64},
            "train": {"steps": 6, "batch_size": 8, "log_every": 2},
            "eval": {"batch_size": 16},
        }
        return config_from_dict(deep_merge(base, sections))

    return make


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep feature caches and datasets of tests out of the user's ~/.cache."""
    monkeypatch.setenv("XMR_CACHE", str(tmp_path_factory.getbasetemp() / "xmr-cache"))


@pytest.fixture(autouse=True)
def english():
    """Run each test in English and restore English afterwards, since the engine's messages follow it too."""
    set_language("en")
    yield
    set_language("en")
