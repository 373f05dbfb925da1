"""retrieval_metrics against values computed by hand."""

import math

import pytest
import torch

from engine.metrics import NoRelevantItemsError, random_recall_at_k, retrieval_metrics

SIMILARITY = torch.tensor([[0.9, 0.1, 0.8, 0.3, 0.2],
                           [0.1, 0.2, 0.3, 0.4, 0.5]])


def test_metrics_with_several_positives_match_hand_values():
    # Query 0 ranks its positives 2 and 4 at ranks 2 and 4; query 1 ranks its positive first.
    metrics = retrieval_metrics(SIMILARITY, [{2, 4}, {4}])

    assert metrics["R@1"] == pytest.approx(50.0)
    assert metrics["R@5"] == pytest.approx(100.0)
    assert metrics["mAP"] == pytest.approx(100 * ((0.5 + 0.5) / 2 + 1.0) / 2)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3)
    assert metrics["NDCG@10"] == pytest.approx(100 * (dcg / ideal + 1.0) / 2)


def test_positive_beyond_rank_k_is_a_miss():
    # Query 0's only positive (item 4) is at rank 4.
    metrics = retrieval_metrics(SIMILARITY[:1], [{4}], ks=(1, 3, 4))

    assert metrics["R@1"] == 0.0
    assert metrics["R@3"] == 0.0
    assert metrics["R@4"] == 100.0


def test_ties_do_not_count_as_hits():
    constant = torch.zeros(1, 4)

    metrics = retrieval_metrics(constant, [{3}], ks=(1,))

    assert metrics["R@1"] == 0.0


def test_query_without_relevant_items_is_named():
    with pytest.raises(NoRelevantItemsError, match="query 1"):
        retrieval_metrics(SIMILARITY, [{0}, set()])


def test_random_recall_matches_closed_form():
    assert random_recall_at_k(10, [1], 1) == pytest.approx(10.0)
    assert random_recall_at_k(10, [1], 10) == pytest.approx(100.0)
    # Two positives among 4, top 1: probability 1/2.
    assert random_recall_at_k(4, [2], 1) == pytest.approx(50.0)
    # Two positives among 4, top 2: miss only if both slots hold the 2 negatives: 1/6.
    assert random_recall_at_k(4, [2], 2) == pytest.approx(100 * (1 - 1 / 6))
