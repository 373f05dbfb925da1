"""Seeding and deterministic algorithms, so the same config and seed give the same metrics."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) and turn on deterministic algorithms."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # cuBLAS needs a fixed workspace for deterministic matmuls. The variable must be set before
    # the first CUDA call, so this runs before any model is built.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


def generator(seed: int, *streams: int) -> torch.Generator:
    """Return a CPU generator for one purpose (``streams`` distinguish epochs, workers, …)."""
    mixed = seed
    for stream in streams:
        mixed = (mixed * 1_000_003 + stream + 1) % (2**63 - 1)
    return torch.Generator().manual_seed(mixed)


def worker_init(worker_id: int) -> None:
    """Seed a DataLoader worker from the seed torch gives it (derived from the loader's generator)."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)
