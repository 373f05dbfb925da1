"""Evaluation: rank both directions of a split with the configured index, score and time them.

Text→image queries are the split's captions against its images; image→text queries are the
images against the captions, with relevance inverted from the same annotations.

One metric code path scores every index. The ``exact`` index without a re-scorer ranks the
whole gallery, so its mAP is over the full ranking. Any other index, and any run with
``eval.rerank``, is scored from each query's ``eval.top_k`` candidates (see ``engine.metrics``
for relevant items outside them). With a re-scorer, the index's own metrics are kept under
``{direction}/before_rerank/…`` and the plain keys hold the re-ranked result.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch

from engine.config import EvalConfig, ExperimentConfig
from engine.data.records import RetrievalSplit
from engine.index import INDEXES, ExactIndex, RetrievalIndex
from engine.metrics import candidate_ranks, per_query_metrics, random_recall_at_k, relevant_ranks
from engine.rerank import RESCORERS, Rescorer, rerank

log = logging.getLogger(__name__)

# Queries per search call in evaluation: bounds the candidate tensors that re-scoring gathers
# ([block × top_k × dim] floats) without calling FAISS once per query.
SEARCH_BLOCK = 256

# Per-direction measurements that are also stored as eval/<name> for the text→image
# direction, the usual use (a caption searching a gallery of images).
SUMMARY_MEASUREMENTS = ("latency_p50_ms", "latency_p95_ms", "index_build_seconds", "index_memory_mb")


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
                    settings: EvalConfig, prefix: str, rescorer: Rescorer | None = None) -> dict[str, float]:
    """Index ``gallery``, rank it for each query that has a relevant item, and average the metrics."""
    scored = [q for q, items in enumerate(relevant) if items]
    if len(scored) < len(relevant):
        log.warning("%s: %d of %d queries have no relevant item and are not scored",
                    prefix, len(relevant) - len(scored), len(relevant))
    if not scored:
        return {}
    queries = queries[scored]
    relevant = [relevant[q] for q in scored]

    started = time.perf_counter()
    index = INDEXES.get(settings.index)(gallery, settings)
    build_seconds = time.perf_counter() - started

    if index.exhaustive and rescorer is None:
        metrics = summarise(full_ranking_ranks(index, queries, relevant), prefix)
    else:
        metrics = candidate_metrics(index, queries, gallery, relevant, settings.top_k, prefix, rescorer)

    metrics.update(measure_latency(index, queries, gallery, settings, prefix, rescorer))
    metrics[f"{prefix}/index_build_seconds"] = build_seconds
    metrics[f"{prefix}/index_memory_mb"] = index.memory_bytes() / 2**20
    metrics[f"{prefix}/random_R@10"] = random_recall_at_k(gallery.shape[0], [len(r) for r in relevant], 10)
    metrics[f"{prefix}/queries"] = float(len(scored))
    metrics[f"{prefix}/gallery"] = float(gallery.shape[0])
    return metrics


def full_ranking_ranks(index: ExactIndex, queries: torch.Tensor,
                       relevant: list[frozenset[int]]) -> list[torch.Tensor]:
    """Return each query's relevant-item ranks over the whole gallery, one score block at a time."""
    ranks: list[torch.Tensor] = []
    for start, scores in index.score_chunks(queries):
        ranks.extend(relevant_ranks(scores, relevant[start:start + scores.shape[0]], query_offset=start))
    return ranks


def candidate_metrics(index: RetrievalIndex, queries: torch.Tensor, gallery: torch.Tensor,
                      relevant: list[frozenset[int]], top_k: int, prefix: str,
                      rescorer: Rescorer | None) -> dict[str, float]:
    """Score each query's top-k candidates, and again after re-scoring them when a re-scorer is set."""
    found, reranked = [], []
    for start in range(0, queries.shape[0], SEARCH_BLOCK):
        block = queries[start:start + SEARCH_BLOCK]
        _, ids = index.search(block, top_k)
        found.append(ids)
        if rescorer is not None:
            reranked.append(rerank(rescorer(block, gallery, ids, prefix), ids)[1])

    before = summarise(candidate_ranks(torch.cat(found), relevant), prefix)
    if rescorer is None:
        return before
    metrics = summarise(candidate_ranks(torch.cat(reranked), relevant), prefix)
    for key, value in before.items():
        metrics[key.replace(f"{prefix}/", f"{prefix}/before_rerank/", 1)] = value
    return metrics


def summarise(ranks: list[torch.Tensor], prefix: str) -> dict[str, float]:
    """Average per-query metrics into ``{prefix}/R@1 …``, plus the mean of R@1, R@5 and R@10."""
    metrics = {f"{prefix}/{name}": float(values.mean()) for name, values in per_query_metrics(ranks).items()}
    metrics[f"{prefix}/mean_recall"] = sum(metrics[f"{prefix}/R@{k}"] for k in (1, 5, 10)) / 3
    return metrics


def measure_latency(index: RetrievalIndex, queries: torch.Tensor, gallery: torch.Tensor,
                    settings: EvalConfig, prefix: str, rescorer: Rescorer | None) -> dict[str, float]:
    """Time single-query searches (top_k, plus re-scoring) and return p50/p95 in milliseconds.

    Queries are searched one at a time, as an interactive user would send them, so the figures
    include per-call overhead that batched evaluation amortises.
    """
    count = min(settings.latency_queries, queries.shape[0])
    if count == 0:
        return {}
    timings = []
    for row in range(count):
        query = queries[row:row + 1]
        started = time.perf_counter()
        scores, ids = index.search(query, settings.top_k)
        if rescorer is not None:
            rerank(rescorer(query, gallery, ids, prefix), ids)
        timings.append(time.perf_counter() - started)
    p50, p95 = np.percentile(np.array(timings) * 1000, [50, 95])
    return {f"{prefix}/latency_p50_ms": float(p50), f"{prefix}/latency_p95_ms": float(p95)}


def score_embeddings(config: ExperimentConfig, split: RetrievalSplit, text: torch.Tensor,
                     image: torch.Tensor, *, rescorer: Rescorer | None = None) -> dict[str, float]:
    """Score both directions from similarity-ready embeddings of the split.

    ``rescorer`` overrides the one ``eval.rerank`` names, for re-scorers that need more than
    the embeddings (a fusion head, say) and are therefore built by the caller.
    """
    started = time.perf_counter()
    if rescorer is None:
        rescorer = RESCORERS.get(config.eval.rerank)(config)
    text_to_images, image_to_texts = relevance(split)
    metrics = score_direction(text, image, text_to_images, config.eval, "t2i", rescorer)
    metrics.update(score_direction(image, text, image_to_texts, config.eval, "i2t", rescorer))
    for stage in ("", "before_rerank/"):
        if f"t2i/{stage}mean_recall" in metrics and f"i2t/{stage}mean_recall" in metrics:
            both = metrics[f"t2i/{stage}mean_recall"] + metrics[f"i2t/{stage}mean_recall"]
            metrics[f"{stage}mean_recall"] = both / 2
    for name in SUMMARY_MEASUREMENTS:
        if f"t2i/{name}" in metrics:
            metrics[f"eval/{name}"] = metrics[f"t2i/{name}"]
    metrics["eval/search_seconds"] = time.perf_counter() - started
    return metrics
