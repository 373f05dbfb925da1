"""Evaluation: encode a split, rank both directions with the configured index, score them.

Text→image queries are the split's captions against its images; image→text queries are the
images against the captions, with relevance inverted from the same annotations.
"""

from __future__ import annotations

import logging
import time

import torch

from engine.config import ExperimentConfig
from engine.data.records import RetrievalSplit
from engine.index import INDEXES
from engine.metrics import per_query_metrics, random_recall_at_k, relevant_ranks
from engine.models.fusion import Rescorer

log = logging.getLogger(__name__)


def relevance(split: RetrievalSplit) -> tuple[list[frozenset[int]], list[frozenset[int]]]:
    """Return relevant gallery positions per text (images) and per image (texts)."""
    position = {image_id: i for i, image_id in enumerate(split.image_ids)}
    text_to_images = [frozenset(position[i] for i in t.image_ids if i in position) for t in split.texts]
    image_to_texts: list[set[int]] = [set() for _ in split.image_ids]
    for text_index, images in enumerate(text_to_images):
        for image in images:
            image_to_texts[image].add(text_index)
    return text_to_images, [frozenset(s) for s in image_to_texts]


def score_direction(queries: torch.Tensor, gallery: torch.Tensor, relevant: list[frozenset[int]],
                    index_name: str, prefix: str, rescore: Rescorer | None = None) -> dict[str, float]:
    """Rank ``gallery`` for each query that has a relevant item, and average the metrics.

    ``rescore`` (early fusion) replaces each chunk of index scores before ranking; it receives
    the chunk's original query positions.
    """
    scored = [q for q, items in enumerate(relevant) if items]
    if len(scored) < len(relevant):
        log.warning("%s: %d of %d queries have no relevant item and are not scored",
                    prefix, len(relevant) - len(scored), len(relevant))
    if not scored:
        return {}
    query_rows = torch.tensor(scored)
    queries = queries[scored]
    relevant = [relevant[q] for q in scored]
    index = INDEXES.get(index_name)(gallery)
    per_query: dict[str, list[torch.Tensor]] = {}
    for start, scores in index.score_chunks(queries):
        if rescore is not None:
            scores = rescore(query_rows[start:start + scores.shape[0]], scores)
        ranks = relevant_ranks(scores, relevant[start:start + scores.shape[0]], query_offset=start)
        for name, values in per_query_metrics(ranks).items():
            per_query.setdefault(name, []).append(values)
    metrics = {f"{prefix}/{name}": float(torch.cat(v).mean()) for name, v in per_query.items()}
    metrics[f"{prefix}/mean_recall"] = sum(metrics[f"{prefix}/R@{k}"] for k in (1, 5, 10)) / 3
    metrics[f"{prefix}/random_R@10"] = random_recall_at_k(gallery.shape[0], [len(r) for r in relevant], 10)
    metrics[f"{prefix}/queries"] = float(len(scored))
    metrics[f"{prefix}/gallery"] = float(gallery.shape[0])
    return metrics


def score_embeddings(config: ExperimentConfig, split: RetrievalSplit, text: torch.Tensor,
                     image: torch.Tensor, rescorers: dict[str, Rescorer] | None = None) -> dict[str, float]:
    """Score both directions from similarity-ready embeddings of the split.

    ``rescorers`` maps a direction (``t2i``, ``i2t``) to its early-fusion re-ranking hook.
    """
    started = time.perf_counter()
    rescorers = rescorers or {}
    text_to_images, image_to_texts = relevance(split)
    metrics = score_direction(text, image, text_to_images, config.eval.index, "t2i", rescorers.get("t2i"))
    metrics.update(score_direction(image, text, image_to_texts, config.eval.index, "i2t", rescorers.get("i2t")))
    if "t2i/mean_recall" in metrics and "i2t/mean_recall" in metrics:
        metrics["mean_recall"] = (metrics["t2i/mean_recall"] + metrics["i2t/mean_recall"]) / 2
    metrics["eval/search_seconds"] = time.perf_counter() - started
    return metrics
