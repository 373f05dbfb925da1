"""Shared helpers for the ablation-axis tests: tiny configs on the toy dataset and one training step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from engine.config import ExperimentConfig, config_from_dict, deep_merge, override_tree
from engine.data.datasets import load_split
from engine.models.model import CrossModalRetrievalModel
from engine.reproducibility import seed_everything
from engine.sink import RunSink, StepRecord
from engine.train import Trainer

# Tiny models gain nothing from intra-op threads, and on a shared machine two spinning threads
# made each forward pass over ten times slower than one.
torch.set_num_threads(1)

# Small enough that one step of any variant takes well under a second on two CPU cores.
TINY = {
    "text": {"backbone": "tiny-bert-zh", "max_length": 12},
    "image": {"backbone": "test_resnet", "pretrained": False, "image_size": 32},
    "head": {"embed_dim": 16, "hidden_dim": 32, "dropout": 0.0},
    "fusion": {"hidden_dim": 16},
    "train": {"steps": 2, "batch_size": 8, "log_every": 1},
    "optim": {"warmup_ratio": 0.0},
    "eval": {"batch_size": 64},
}


def axes_config(root: Path, settings: dict[str, Any] | None = None) -> ExperimentConfig:
    """Return the tiny test config on the toy dataset at ``root``, with dotted-key ``settings``."""
    data = deep_merge(TINY, {"data": {"dataset": str(root)}})
    for key, value in (settings or {}).items():
        data = deep_merge(data, override_tree(key, value))
    return config_from_dict(data)


class RecordingSink(RunSink):
    """Keeps every step record and event, for assertions."""

    def __init__(self) -> None:
        self.records: list[StepRecord] = []
        self.events: list[tuple[str, str]] = []
        self.final: dict[str, float] = {}

    def step(self, record: StepRecord) -> None:
        self.records.append(record)

    def event(self, level: str, message: str) -> None:
        self.events.append((level, message))

    def metrics(self, values: dict[str, float]) -> None:
        self.final = dict(values)


def build_trainer(config: ExperimentConfig, sink: RunSink | None = None) -> Trainer:
    """Build the model and trainer of ``config`` on CPU, seeded as ``engine.train.run`` does."""
    seed_everything(config.train.seed)
    split = load_split(config.data, config.data.train_split)
    model = CrossModalRetrievalModel(config)
    return Trainer(config, model, split, torch.device("cpu"), sink or RecordingSink())


def first_batch(trainer: Trainer) -> dict:
    return next(iter(trainer.batches()))


def trainable_snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
