"""Data loading throughput vs training throughput when the backbones run every step.

With ``train.cache_features=off`` each step decodes, resizes and tokenises its batch, then runs
both backbones and the heads. Loading is measured by iterating the engine's own DataLoader
alone; training by ``Trainer.train_step`` on the same batches already in memory. The
target is loading at least 5× faster than training, so that steps do not wait for data.

    python bench/data_loading.py
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench/index_tradeoff.py

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import default_config, training_dataset, write_result  # noqa: E402
from engine.data.datasets import load_split  # noqa: E402
from engine.models.model import CrossModalRetrievalModel  # noqa: E402
from engine.sink import RunSink  # noqa: E402
from engine.train import Trainer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="batches loaded and trained")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-workers", type=int, nargs="+", default=[0, 1],
                        help="DataLoader worker counts, each measured separately")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        root, dataset = training_dataset(Path(scratch))
        config = default_config(root, args.batch_size, args.steps + 1)
        config.train.cache_features = "off"
        split = load_split(config.data, config.data.train_split)
        torch.manual_seed(0)
        model = CrossModalRetrievalModel(config)
        trainer = Trainer(config, model, split, torch.device("cpu"), RunSink())
        loading = {}
        for workers in args.num_workers:
            config.data.num_workers = workers
            batches, seconds = load_batches(trainer, args.steps)
            loading[workers] = args.steps * args.batch_size / seconds

    model.train()
    trainer.train_step(batches[0])  # warm-up
    started = time.perf_counter()
    for batch in batches:
        trainer.train_step(batch)
    train_seconds = time.perf_counter() - started

    training = args.steps * args.batch_size / train_seconds
    ratios = {workers: rate / training for workers, rate in loading.items()}
    for workers, rate in loading.items():
        print(f"{dataset}: loading with {workers} worker(s) {rate:.0f} samples/s, training "
              f"{training:.0f} samples/s, ratio {ratios[workers]:.1f} (target ≥ 5)")
    write_result("data_loading", {
        "dataset": dataset, "batch_size": args.batch_size, "steps": args.steps,
        "image_size": config.image.image_size, "torch_threads": torch.get_num_threads(),
        "text_backbone": config.text.backbone, "image_backbone": config.image.backbone,
        "loading_samples_per_s_by_workers": loading, "training_samples_per_s": training,
        "ratio_by_workers": ratios, "target": 5.0})


def load_batches(trainer: Trainer, steps: int) -> tuple[list[dict], float]:
    """Return ``steps`` batches from the engine's DataLoader and the seconds they took."""
    loader = trainer._loader_batches()
    next(loader)  # warm-up: worker start, first decode, tokenizer start
    started = time.perf_counter()
    batches = list(itertools.islice(loader, steps))
    return batches, time.perf_counter() - started


if __name__ == "__main__":
    main()
