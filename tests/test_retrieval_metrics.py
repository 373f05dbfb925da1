"""Rank counting and top-k candidate metrics, checked against sorting and hand-computed values."""

from __future__ import annotations

import math

import torch

from engine.metrics import candidate_ranks, per_query_metrics, relevant_ranks


def sorted_ranks(similarity: torch.Tensor, relevant: list[frozenset[int]]) -> list[torch.Tensor]:
    order = torch.argsort(similarity, dim=1, descending=True, stable=True)
    position = torch.empty_like(order)
    position.scatter_(1, order, torch.arange(1, order.shape[1] + 1).expand_as(order))
    return [position[q, sorted(items)].sort().values for q, items in enumerate(relevant)]


def test_relevant_ranks_match_a_stable_sort():
    similarity = torch.randn(30, 200, generator=torch.Generator().manual_seed(0))
    relevant = [frozenset({q, (q * 7) % 200, 199}) for q in range(30)]
    for got, expected in zip(relevant_ranks(similarity, relevant), sorted_ranks(similarity, relevant)):
        assert torch.equal(got, expected)


def test_relevant_ranks_break_ties_by_gallery_order():
    similarity = torch.zeros(1, 6)
    similarity[0, 4] = similarity[0, 1] = 1.0
    ranks = relevant_ranks(similarity, [frozenset({1, 4, 5})])[0]
    assert ranks.tolist() == [1, 2, 6]


def test_candidate_ranks_mark_missing_items_infinite():
    candidates = torch.tensor([[5, 2, 9, -1]])
    ranks = candidate_ranks(candidates, [frozenset({2, 7, 8})])[0]
    assert ranks[0] == 2
    assert math.isinf(ranks[1])
    assert math.isinf(ranks[2])


def test_metrics_count_missing_items_as_not_retrieved():
    # Relevant items at rank 2 and outside the candidates: AP = (1/2 + 0) / 2, NDCG = (1/log2 3) / (1 + 1/log2 3).
    metrics = per_query_metrics([torch.tensor([2.0, math.inf], dtype=torch.float64)])
    assert metrics["R@1"].item() == 0.0
    assert metrics["R@5"].item() == 100.0
    assert math.isclose(metrics["mAP"].item(), 25.0)
    gain = 1 / math.log2(3)
    assert math.isclose(metrics["NDCG@10"].item(), 100 * gain / (1 + gain))


def test_metrics_of_query_with_nothing_retrieved_are_zero():
    metrics = per_query_metrics([torch.tensor([math.inf], dtype=torch.float64)])
    assert all(values.item() == 0.0 for values in metrics.values())


def test_full_candidate_list_scores_like_full_ranking():
    similarity = torch.randn(20, 50, generator=torch.Generator().manual_seed(1))
    relevant = [frozenset({q, q + 20}) for q in range(20)]
    candidates = torch.argsort(similarity, dim=1, descending=True, stable=True)
    full = per_query_metrics(relevant_ranks(similarity, relevant))
    from_candidates = per_query_metrics(candidate_ranks(candidates, relevant))
    for name, values in full.items():
        assert torch.allclose(values, from_candidates[name]), name
