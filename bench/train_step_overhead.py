"""Engine training step vs a bare PyTorch loop with the same model, batches and in-memory data.

Both sides train the projection heads of the default config on the same pre-built batches of
backbone features held in memory, as with frozen backbones and ``train.cache_features=auto``.
The ratio therefore isolates what ``Trainer.train_step`` adds around forward, loss, backward
and the AdamW step: the false-negative mask, the LR schedule, the temperature clamp and the
finite-loss check. The bare loop uses diagonal labels, a fixed temperature and gradient clipping.

    python bench/train_step_overhead.py
"""

from __future__ import annotations

import argparse
import copy
import itertools
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench/index_tradeoff.py

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import default_config, median, time_repeats, training_dataset, write_result  # noqa: E402
from engine.config import ExperimentConfig  # noqa: E402
from engine.data.datasets import load_split  # noqa: E402
from engine.features import SplitFeatures  # noqa: E402
from engine.models.model import CrossModalRetrievalModel  # noqa: E402
from engine.sink import RunSink  # noqa: E402
from engine.train import Trainer  # noqa: E402


def bare_step_factory(model: CrossModalRetrievalModel, config: ExperimentConfig):
    """Return a plain CLIP-style training step over the same heads."""
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=config.optim.lr, weight_decay=config.optim.weight_decay)
    scale = 1.0 / config.similarity.temperature

    def step(batch: dict) -> float:
        optimizer.zero_grad(set_to_none=True)
        text = F.normalize(model.project_text(batch["text_features"]), dim=-1)
        image = F.normalize(model.project_image(batch["image_features"]), dim=-1)
        logits = scale * text @ image.T
        labels = torch.arange(len(logits))
        loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.optim.max_grad_norm)
        optimizer.step()
        return loss.item()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=40, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of each loop")
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        root, dataset = training_dataset(Path(scratch))
        config = default_config(root, args.batch_size, args.steps * (args.rounds + 1))
        split = load_split(config.data, config.data.train_split)
    torch.manual_seed(0)
    model = CrossModalRetrievalModel(config)
    bare_model = copy.deepcopy(model)

    trainer = Trainer(config, model, split, torch.device("cpu"), RunSink())
    trainer.cache = SplitFeatures(text=torch.randn(len(split.texts), model.text_encoder.output_dim),
                                  image=torch.randn(len(split.image_ids), model.image_encoder.output_dim))
    batches = list(itertools.islice(trainer._cached_batches(), args.steps))
    bare_step = bare_step_factory(bare_model, config)
    model.train()
    bare_model.train()

    def run_engine() -> None:
        for batch in batches:
            trainer.train_step(batch)

    def run_bare() -> None:
        for batch in batches:
            bare_step(batch)

    run_engine()  # warm-up of both: allocator, thread pools
    run_bare()
    engine_times, bare_times = [], []
    for _ in range(args.rounds):
        engine_times += time_repeats(run_engine, 1)
        bare_times += time_repeats(run_bare, 1)
    engine_ms = 1000 * median(engine_times) / args.steps
    bare_ms = 1000 * median(bare_times) / args.steps
    ratio = engine_ms / bare_ms
    print(f"{dataset}: engine {engine_ms:.2f} ms/step, bare loop {bare_ms:.2f} ms/step, "
          f"ratio {ratio:.3f} (target ≤ 1.05)")
    write_result("train_step_overhead", {
        "dataset": dataset, "batch_size": args.batch_size, "steps_per_round": args.steps,
        "rounds": args.rounds, "engine_ms_per_step": engine_ms, "bare_ms_per_step": bare_ms,
        "ratio": ratio, "target": 1.05, "engine_round_seconds": engine_times, "bare_round_seconds": bare_times})


if __name__ == "__main__":
    main()
