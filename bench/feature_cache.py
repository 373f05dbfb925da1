"""Frozen backbones: epochs on cached backbone features vs recomputing them every step.

Runs ``engine.train.run`` twice on the same config and seed, with ``train.cache_features`` set
to ``auto`` and to ``off``, for the same number of steps, and compares the time per epoch
and the evaluation metrics. An epoch's time is the measured time per step times the steps in
one pass over the training pairs, because recomputing features for a whole emoji-zh epoch
takes most of an hour on 2 CPU cores. The cached run's one-time feature encoding is
reported apart and also amortised over ``--epochs`` epochs.

    python bench/feature_cache.py
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench/index_tradeoff.py

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import default_config, training_dataset, write_result  # noqa: E402
from engine.data.datasets import load_split  # noqa: E402
from engine.data.pipeline import PairIndex  # noqa: E402
from engine.sink import RunSink  # noqa: E402
from engine.train import run  # noqa: E402

COMPARED = ("mean_recall", "t2i/R@1", "t2i/R@10", "i2t/R@1", "t2i/mAP")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps of each run")
    parser.add_argument("--epochs", type=int, default=3, help="epochs the one-time caching is amortised over")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--name", default="feature_cache", help="result file name under bench/results")
    parser.add_argument("--train-split", default="train",
                        help="split trained on; `valid` has about 12 % of the captions of emoji-zh's `train`")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        root, dataset = training_dataset(Path(scratch))
        config = default_config(root, args.batch_size, steps=1)
        config.data.train_split = args.train_split
        pairs = len(PairIndex(load_split(config.data, config.data.train_split)))
        steps_per_epoch = math.ceil(pairs / args.batch_size)
        config.train.steps = args.steps
        config.train.log_every = args.steps
        config.eval.latency_queries = 0

        results = {}
        for mode in ("auto", "off"):
            config.train.cache_features = mode
            results[mode] = run(config, RunSink()).metrics

    cache_seconds = results["auto"].get("train/feature_cache_seconds", 0.0)
    epoch_per_step = steps_per_epoch / args.steps
    cached_epoch = (results["auto"]["train/seconds"] - cache_seconds) * epoch_per_step
    cached_amortised = cached_epoch + cache_seconds / args.epochs
    recomputed_epoch = results["off"]["train/seconds"] * epoch_per_step
    differences = {key: results["auto"][key] - results["off"][key] for key in COMPARED}
    print(f"{dataset}: {pairs} pairs, {steps_per_epoch} steps/epoch; epoch on cached features "
          f"{cached_epoch:.2f} s (+{cache_seconds:.1f} s once to cache), recomputing {recomputed_epoch:.2f} s: "
          f"{recomputed_epoch / cached_epoch:.1f}x faster ({recomputed_epoch / cached_amortised:.1f}x with "
          f"the caching amortised over {args.epochs} epochs; target ≥ 10x)")
    print("metric differences (cached − recomputed): "
          + ", ".join(f"{k} {v:+.3f}" for k, v in differences.items()))
    write_result(args.name, {
        "dataset": dataset, "train_split": args.train_split, "pairs": pairs, "batch_size": args.batch_size, "steps": args.steps,
        "steps_per_epoch": steps_per_epoch, "epochs_amortised": args.epochs,
        "cache_seconds": cache_seconds, "cached_epoch_seconds": cached_epoch,
        "cached_epoch_seconds_amortised": cached_amortised, "recomputed_epoch_seconds": recomputed_epoch,
        "speedup": recomputed_epoch / cached_epoch, "speedup_amortised": recomputed_epoch / cached_amortised,
        "target": 10.0, "metrics_cached": {k: results["auto"][k] for k in COMPARED},
        "metrics_recomputed": {k: results["off"][k] for k in COMPARED}, "metric_differences": differences})


if __name__ == "__main__":
    main()
