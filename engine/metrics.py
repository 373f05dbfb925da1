"""Retrieval metrics: R@K, mAP and NDCG@10 over a full ranking, plus the random baseline.

All values are percentages (0–100), as the Chinese-CLIP evaluation reports recall. A query's
relevant items are all gallery items of its concept, so a text may have several relevant
images and an image several relevant texts; R@K counts a hit when any of them is in the top K.
Ties are broken by gallery order, so a constant score matrix does not look perfect.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch


class NoRelevantItemsError(ValueError):
    """Raised when a query has no relevant gallery item, which would make its metrics undefined."""


def relevant_ranks(similarity: torch.Tensor, relevant: Sequence[set[int] | frozenset[int]],
                   query_offset: int = 0) -> list[torch.Tensor]:
    """Return, per query, the sorted 1-based ranks of its relevant gallery items."""
    if similarity.ndim != 2 or similarity.shape[0] != len(relevant):
        raise ValueError(f"similarity has shape {tuple(similarity.shape)}, expected [{len(relevant)}, gallery]")
    order = torch.argsort(similarity.float(), dim=1, descending=True, stable=True)
    position = torch.empty_like(order)
    ranks_row = torch.arange(1, order.shape[1] + 1, device=order.device).expand_as(order)
    position.scatter_(1, order, ranks_row)
    ranks = []
    for query, items in enumerate(relevant):
        if not items:
            raise NoRelevantItemsError(f"query {query + query_offset} has no relevant gallery item; "
                                       "drop it or fix its annotations before scoring")
        index = torch.tensor(sorted(items), device=position.device)
        ranks.append(position[query, index].sort().values.cpu())
    return ranks


def per_query_metrics(ranks: list[torch.Tensor], ks: Sequence[int] = (1, 5, 10),
                      ndcg_k: int = 10) -> dict[str, torch.Tensor]:
    """Return one value per query for each metric, from the ranks of its relevant items."""
    values: dict[str, list[float]] = {f"R@{k}": [] for k in ks}
    values["mAP"], values[f"NDCG@{ndcg_k}"] = [], []
    for query_ranks in ranks:
        first = int(query_ranks[0])
        for k in ks:
            values[f"R@{k}"].append(1.0 if first <= k else 0.0)
        hits = torch.arange(1, len(query_ranks) + 1, dtype=torch.float64)
        values["mAP"].append(float((hits / query_ranks.double()).mean()))
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
