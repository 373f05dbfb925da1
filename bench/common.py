"""Shared helpers of the benchmark scripts: machine description, timing, result files.

Every script measures its comparison side by side in one process and writes
``bench/results/<name>.json`` with the machine and the date, so figures from different
machines are never mixed up.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

import faiss
import numpy as np
import psutil
import torch

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, object]:
    """Return what the figures depend on: CPU, cores, memory, library versions, load."""
    return {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_1m": os.getloadavg()[0],
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "faiss": faiss.__version__,
        "faiss_threads": faiss.omp_get_max_threads(),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def time_repeats(action: Callable[[], object], repeats: int) -> list[float]:
    """Return the wall times in seconds of ``repeats`` calls of ``action``."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def write_result(name: str, figures: dict[str, object]) -> Path:
    """Write ``bench/results/<name>.json`` with the figures, the machine and the UTC date."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name,
               "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": machine(), **figures}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}")
    return path


def training_dataset(scratch: Path) -> tuple[Path, str]:
    """Return ``(folder, name)`` of emoji-zh when it is built, else of a synthetic toy set.

    The toy set (16 colour-shape concepts, 8 images each) lets the scripts run on a machine
    without emoji-zh, and the result file names which one was used.
    """
    from engine.data.emoji_zh import default_root

    built = default_root()
    if (built / "train_texts.jsonl").is_file():
        return built, "emoji-zh"
    from tests.fixtures import write_toy_dataset

    return write_toy_dataset(scratch / "toy", images_per_concept=8), "toy (emoji-zh not built)"


def default_config(root: Path, batch_size: int, steps: int) -> "ExperimentConfig":
    """Return the default experiment on the dataset at ``root`` with the given batch and steps."""
    from engine.config import ExperimentConfig

    config = ExperimentConfig()
    config.data.root = str(root)
    config.train.batch_size = batch_size
    config.train.steps = steps
    return config
