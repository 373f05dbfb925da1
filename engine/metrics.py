"""Retrieval metrics: R@K, mAP and NDCG@10 from the ranks of relevant items, and the random baseline.

All values are percentages (0–100), as the Chinese-CLIP evaluation reports recall. A query's
relevant items are all gallery items of its concept, so a text may have several relevant
images and an image several relevant texts; R@K counts a hit when any of them is in the top K.
Ties are broken by gallery order, so a constant score matrix does not look perfect.

An index that returns only its top-k candidates (FAISS) gives no rank to relevant items outside
them. Such an item counts as not retrieved: its rank is infinite, so it adds nothing to R@K, to
the sum of precisions in AP or to the gains of NDCG. AP still divides by all relevant items, as
TREC's AP over a truncated result list does. For an exact index such as ``faiss_flat``,
R@K and NDCG@K for K ≤ k therefore equal their full-ranking values, and mAP is a lower bound.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch


class NoRelevantItemsError(ValueError):
    """Raised when a query has no relevant gallery item, which would make its metrics undefined."""


def relevant_ranks(similarity: torch.Tensor, relevant: Sequence[set[int] | frozenset[int]],
                   query_offset: int = 0) -> list[torch.Tensor]:
    """Return, per query, the sorted 1-based ranks of its relevant gallery items.

    A relevant item's rank is one plus the number of items that score higher, plus the number
    that score the same and come earlier in the gallery. Counting costs one pass over the row
    per relevant item, far less than sorting a large gallery.
    """
    if similarity.ndim != 2 or similarity.shape[0] != len(relevant):
        raise ValueError(f"similarity has shape {tuple(similarity.shape)}, expected [{len(relevant)}, gallery]")
    # NumPy's comparison and count_nonzero run several times faster than torch's bool sum on CPU.
    scores = similarity.detach().float().cpu().numpy()
    ranks = []
    for query, items in enumerate(relevant):
        if not items:
            raise NoRelevantItemsError(f"query {query + query_offset} has no relevant gallery item; "
                                       "drop it or fix its annotations before scoring")
        row = scores[query]
        found = [1 + np.count_nonzero(row[:item] >= row[item]) + np.count_nonzero(row[item + 1:] > row[item])
                 for item in items]
        ranks.append(torch.tensor(sorted(found), dtype=torch.long))
    return ranks


def candidate_ranks(candidates: torch.Tensor, relevant: Sequence[set[int] | frozenset[int]]) -> list[torch.Tensor]:
    """Return, per query, the sorted ranks of its relevant items in a ``[queries × k]`` candidate list.

    Relevant items missing from the candidates (or padded with -1) get rank ``inf``; see the
    module docstring for how the metrics treat them.
    """
    if candidates.ndim != 2 or candidates.shape[0] != len(relevant):
        raise ValueError(f"candidates have shape {tuple(candidates.shape)}, expected [{len(relevant)}, k]")
    ranks = []
    for row, items in zip(candidates.tolist(), relevant):
        found = [rank for rank, item in enumerate(row, start=1) if item in items]
        missing = [math.inf] * (len(items) - len(found))
        ranks.append(torch.tensor(found + missing, dtype=torch.float64))
    return ranks


def per_query_metrics(ranks: list[torch.Tensor], ks: Sequence[int] = (1, 5, 10),
                      ndcg_k: int = 10) -> dict[str, torch.Tensor]:
    """Return one value per query for each metric, from the sorted ranks of its relevant items."""
    values: dict[str, list[float]] = {f"R@{k}": [] for k in ks}
    values["mAP"], values[f"NDCG@{ndcg_k}"] = [], []
    for query_ranks in ranks:
        first = float(query_ranks[0])
        for k in ks:
            values[f"R@{k}"].append(1.0 if first <= k else 0.0)
        hits = torch.arange(1, len(query_ranks) + 1, dtype=torch.float64)
        values["mAP"].append(float((hits / query_ranks.double()).mean()))  # an inf rank adds 0
        gains = [1.0 / math.log2(rank + 1) for rank in query_ranks.tolist() if rank <= ndcg_k]
        ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(len(query_ranks), ndcg_k) + 1))
        values[f"NDCG@{ndcg_k}"].append(sum(gains) / ideal)
    return {name: torch.tensor(v, dtype=torch.float64) * 100.0 for name, v in values.items()}


def retrieval_metrics(similarity: torch.Tensor, relevant: Sequence[set[int] | frozenset[int]],
                      ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """Score a ``[queries × gallery]`` similarity matrix; returns R@K, mAP and NDCG@10 in percent."""
    per_query = per_query_metrics(relevant_ranks(similarity, relevant), ks)
    return {name: float(values.mean()) for name, values in per_query.items()}


def random_recall_at_k(gallery_size: int, relevant_counts: Sequence[int], k: int) -> float:
    """Return the expected R@K (percent) of a uniformly random ranking.

    For one query with ``p`` relevant items among ``g``, a miss means all top ``k`` slots hold
    irrelevant items: probability C(g-p, k) / C(g, k).
    """
    total = 0.0
    for p in relevant_counts:
        miss = 1.0
        for i in range(min(k, gallery_size)):
            miss *= max(0, gallery_size - p - i) / (gallery_size - i)
        total += 1.0 - miss
    return 100.0 * total / max(1, len(relevant_counts))


# Metric names that hold timings or memory figures: they vary between identical runs, so
# reproducibility checks compare everything else.
MEASUREMENT_MARKERS = ("seconds", "samples_per_s", "ms_per_item", "peak_", "latency_", "memory_mb")


def is_measurement(name: str) -> bool:
    """Return True for timing and memory entries of a run's metrics (not reproducible)."""
    return any(marker in name for marker in MEASUREMENT_MARKERS)
