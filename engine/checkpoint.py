"""Training checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint contains the model, optimizer, scheduler, GradScaler and loss-module states, every
random-number generator (Python, NumPy, torch CPU and CUDA), the optimizer step reached and
the loss-logging window. The data position is the step itself: ``StepBatchSampler`` computes
any step's batch from (seed, step), so nothing about the loader needs saving.

Files are written to a temporary name, fsynced and renamed over the target, so a crash or a
full disk while saving leaves the previous checkpoint intact.
"""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from engine.messages import _

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """Raised when a checkpoint cannot be written or does not belong to the run being resumed."""


@dataclass
class TrainingState:
    """The resumable state of a ``Trainer`` between two optimizer steps."""

    step: int                                   # optimizer steps completed
    config_hash: str                            # ``ExperimentConfig.config_hash()`` of the run
    model: dict[str, Any]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    scaler: dict[str, Any]
    loss: dict[str, Any]                        # state of the negatives module (e.g. a queue)
    rng: dict[str, Any]                         # see ``capture_rng``
    progress: dict[str, Any] = field(default_factory=dict)  # logging window, last finite loss, seconds


def capture_rng() -> dict[str, Any]:
    """Return the states of every generator a training step may draw from (dropout, shuffles)."""
    state: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state(),
                             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Put every generator back to the states returned by ``capture_rng``."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    elif cuda is not None:
        log.warning("the checkpoint has CUDA generator states for %d devices but %d are visible; "
                    "CUDA randomness after resume will differ from an uninterrupted run",
                    len(cuda), torch.cuda.device_count() if torch.cuda.is_available() else 0)


def _serialize(payload: dict[str, Any], handle: BinaryIO) -> None:
    torch.save(payload, handle)


def save_checkpoint(path: Path, state: TrainingState) -> None:
    """Write ``state`` to ``path`` atomically; raise CheckpointError (old file kept) on failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    payload = {"format": FORMAT_VERSION, **state.__dict__}
    try:
        with open(temporary, "wb") as handle:
            _serialize(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        _fsync_directory(path.parent)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        kept = _("the previous checkpoint is kept") if path.exists() else _("no earlier checkpoint exists")
        raise CheckpointError(_("writing checkpoint {path} at step {step} failed ({error}); {kept}. Free disk space, "
                                "then `xmr queue retry` the run to resume").format(
            path=path, step=state.step, error=error.strerror or error, kept=kept)) from error


def _fsync_directory(folder: Path) -> None:
    # The rename is only durable once the directory entry itself reaches the disk.
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def load_checkpoint(path: Path, config_hash: str) -> TrainingState:
    """Read a checkpoint written by ``save_checkpoint`` for the config with ``config_hash``."""
    # weights_only=False: the file contains RNG states (tuples, NumPy arrays) besides tensors.
    # Checkpoints are written by this program into the run's own folder, never downloaded.
    payload = torch.load(path, map_location="cpu", weights_only=False)
    if payload.pop("format", None) != FORMAT_VERSION:
        raise CheckpointError(_("{path}: unsupported checkpoint format; delete it to restart the run from step "
                                "0").format(path=path))
    state = TrainingState(**payload)
    if state.config_hash != config_hash:
        raise CheckpointError(_("{path} belongs to config {found}, not {expected}; delete it to restart the run "
                                "from step 0").format(path=path, found=state.config_hash, expected=config_hash))
    return state
