"""Top-k predictions for splits distributed without ground truth, in Chinese-CLIP's submission shape.

Test splits of MUGE and similar benchmarks ship texts without `image_ids`; scores come from
the benchmark's server. `train_and_predict` trains a config, encodes the split and writes one
JSON object a line: `{"text_id": 8428, "image_ids": [1076345, 517602, …]}`, best first.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.config import ExperimentConfig
from engine.data.datasets import load_split
from engine.data.records import RetrievalSplit
from engine.index import INDEXES

logger = logging.getLogger(__name__)


@dataclass
class PredictionFile:
    """Summary of a prediction file written by `train_and_predict`."""

    path: Path
    texts: int  # lines written
    scorable: bool  # False when no text of the split has image_ids


def top_k_images(text: torch.Tensor, image: torch.Tensor, index_name: str, k: int) -> torch.Tensor:
    """Return ``[texts, min(k, images)]`` gallery positions, most similar first."""
    k = min(k, image.shape[0])
    best = []
    for _, scores in INDEXES.get(index_name)(image).score_chunks(text):
        best.append(scores.topk(k, dim=1).indices)
    return torch.cat(best) if best else torch.empty(0, k, dtype=torch.long)


def write_predictions(path: Path, split: RetrievalSplit, positions: torch.Tensor) -> int:
    """Write one `{"text_id", "image_ids"}` line per text of `split`; returns the line count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for record, row in zip(split.texts, positions.tolist()):
            image_ids = [split.image_ids[position] for position in row]
            out.write(json.dumps({"text_id": record.text_id, "image_ids": image_ids}) + "\n")
    return len(split.texts)


def train_and_predict(config: ExperimentConfig, split_name: str, top_k: int, out: Path,
                      device: str | None = None) -> PredictionFile:
    """Train `config` on its training split, then write the top-k images of every text of `split_name`."""
    from engine.features import encode_split_features, project_features
    from engine.models.model import CrossModalRetrievalModel
    from engine.reproducibility import seed_everything
    from engine.sink import PrintSink
    from engine.train import Trainer, eval_transform, resolve_device

    if top_k < 1:
        raise ValueError(f"--top-k {top_k} is invalid; expected 1 or more")
    target = resolve_device(device)
    seed_everything(config.train.seed)
    train_split = load_split(config.data, config.data.train_split)
    queries = load_split(config.data, split_name)
    model = CrossModalRetrievalModel(config).to(target)
    Trainer(config, model, train_split, target, PrintSink()).fit()

    model.eval()
    features = encode_split_features(model, queries, eval_transform(config, model), config.eval.batch_size, target)
    text, image = project_features(model, features, config.eval.batch_size, target)
    written = write_predictions(out, queries, top_k_images(text, image, config.eval.index, top_k))
    scorable = any(record.image_ids for record in queries.texts)
    logger.info("wrote %d predictions of split %s to %s", written, split_name, out)
    return PredictionFile(Path(out), written, scorable)
