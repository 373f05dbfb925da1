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
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader worker processes")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        root, dataset = training_dataset(Path(scratch))
        config = default_config(root, args.batch_size, args.steps + 1)
        config.data.num_workers = args.num_workers
        config.train.cache_features = "off"
        split = load_split(config.data, config.data.train_split)
        torch.manual_seed(0)
        model = CrossModalRetrievalModel(config)
        trainer = Trainer(config, model, split, torch.device("cpu"), RunSink())

        loader = trainer._loader_batches()
        next(loader)  # warm-up: first decode, tokenizer start
        started = time.perf_counter()
        batches = list(itertools.islice(loader, args.steps))
        load_seconds = time.perf_counter() - started

    model.train()
    trainer.train_step(batches[0])  # warm-up
    started = time.perf_counter()
    for batch in batches:
        trainer.train_step(batch)
    train_seconds = time.perf_counter() - started

    samples = args.steps * args.batch_size
    loading, training = samples / load_seconds, samples / train_seconds
    ratio = loading / training
    print(f"{dataset}: loading {loading:.0f} samples/s, training {training:.0f} samples/s, "
          f"ratio {ratio:.1f} (target ≥ 5)")
    write_result("data_loading", {
        "dataset": dataset, "batch_size": args.batch_size, "steps": args.steps,
        "num_workers": args.num_workers, "image_size": config.image.image_size,
        "text_backbone": config.text.backbone, "image_backbone": config.image.backbone,
        "loading_samples_per_s": loading, "training_samples_per_s": training,
        "ratio": ratio, "target": 5.0})


if __name__ == "__main__":
    main()
