"""Checkpoints: a run stopped and resumed ends exactly where an uninterrupted run ends."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import torch

from engine.metrics import is_measurement
from engine import checkpoint
from engine.checkpoint import CheckpointError, TrainingState, capture_rng, load_checkpoint, save_checkpoint
from engine.sink import RunSink, StepRecord
from engine.train import run

# Timing and memory measurements differ between any two runs; everything else must match.


class StopAfter(RunSink):
    """Asks the trainer to stop once ``steps`` steps are logged, and records what it saw."""

    def __init__(self, steps: int | None = None) -> None:
        self.steps = steps
        self.records: list[StepRecord] = []
        self.checkpoints: list[tuple[str, int]] = []

    def step(self, record: StepRecord) -> None:
        self.records.append(record)

    def checkpoint(self, path: str, step: int) -> None:
        self.checkpoints.append((path, step))

    def should_stop(self) -> bool:
        return self.steps is not None and bool(self.records) and self.records[-1].step >= self.steps


def deterministic(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if not is_measurement(k)}


def test_resumed_run_matches_uninterrupted_run(tiny_config, tmp_path: Path):
    # The DataLoader path (a trainable text layer, dropout in the heads). The cached-feature
    # path is checked the same way through the worker in tests/test_worker.py.
    config = tiny_config(text={"backbone": "tiny-bert-zh", "unfreeze_layers": 1}, head={"dropout": 0.3},
                         train={"steps": 4, "log_every": 1, "checkpoint_every": 2})
    uninterrupted = run(config).metrics

    first = StopAfter(steps=3)
    stopped = run(config, first, checkpoint_path=tmp_path / "checkpoint.pt")
    second = StopAfter()
    resumed = run(config, second, checkpoint_path=tmp_path / "checkpoint.pt",
                  resume_from=tmp_path / "checkpoint.pt")

    assert stopped.stopped_early
    assert [step for _, step in first.checkpoints] == [2, 3]
    assert [r.step for r in second.records] == [4]
    assert resumed.steps_done == 4
    assert deterministic(resumed.metrics) == deterministic(uninterrupted)


def test_checkpoint_holds_every_training_state(tiny_config, tmp_path: Path):
    config = tiny_config(train={"steps": 4, "checkpoint_every": 2})

    run(config, checkpoint_path=tmp_path / "checkpoint.pt")
    state = load_checkpoint(tmp_path / "checkpoint.pt", config.config_hash())

    assert state.step == 4
    assert state.optimizer["state"], "optimizer moments are missing"
    assert state.scheduler["last_epoch"] == 4
    assert {"python", "numpy", "torch"} <= set(state.rng)
    assert state.progress["last_finite"][0] == 4


def test_checkpoint_of_other_config_is_rejected(tmp_path: Path):
    state = TrainingState(step=1, config_hash="aaaaaaaaaaaa", model={}, optimizer={}, scheduler={},
                          scaler={}, loss={}, rng=capture_rng())
    save_checkpoint(tmp_path / "checkpoint.pt", state)

    assert load_checkpoint(tmp_path / "checkpoint.pt", "aaaaaaaaaaaa").step == 1
    with pytest.raises(CheckpointError, match="belongs to config aaaaaaaaaaaa, not bbbbbbbbbbbb"):
        load_checkpoint(tmp_path / "checkpoint.pt", "bbbbbbbbbbbb")


def test_full_disk_keeps_previous_checkpoint(tiny_config, tmp_path: Path, monkeypatch):
    config = tiny_config(train={"steps": 4, "checkpoint_every": 2})
    path = tmp_path / "checkpoint.pt"
    real_serialize = checkpoint._serialize
    written = []

    def fill_disk_after_first(payload, handle):
        if written:
            handle.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        real_serialize(payload, handle)
        written.append(payload["step"])

    monkeypatch.setattr(checkpoint, "_serialize", fill_disk_after_first)

    with pytest.raises(CheckpointError, match="No space left on device.*previous checkpoint is kept"):
        run(config, checkpoint_path=path)

    assert load_checkpoint(path, config.config_hash()).step == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]
    assert torch.load(path, weights_only=False)["step"] == 2
