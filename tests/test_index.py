"""Indexes against brute-force search on small seeded galleries."""

from __future__ import annotations

import logging

import pytest
import torch
import torch.nn.functional as F

from engine.config import EvalConfig
from engine.index import INDEXES, IndexConfigError, default_nlist, default_pq_m, ivfpq_params
from engine.rerank import exact_scores, rerank

DIM = 32


def unit_vectors(count: int, seed: int, dim: int = DIM) -> torch.Tensor:
    return F.normalize(torch.randn(count, dim, generator=torch.Generator().manual_seed(seed)), dim=1)


def clustered_vectors(count: int, seed: int, clusters: int = 16) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(clusters, DIM, generator=generator), dim=1)
    members = torch.randint(clusters, (count,), generator=generator)
    return F.normalize(centres[members] + 0.1 * torch.randn(count, DIM, generator=generator), dim=1)


def brute_force(queries: torch.Tensor, gallery: torch.Tensor, k: int) -> torch.Tensor:
    return torch.argsort(queries @ gallery.T, dim=1, descending=True, stable=True)[:, :k]


def test_exact_search_matches_brute_force_ranking():
    gallery, queries = unit_vectors(300, 0), unit_vectors(40, 1)
    _, ids = INDEXES.get("exact")(gallery).search(queries, 300)
    assert torch.equal(ids, brute_force(queries, gallery, 300))


def test_exact_chunks_stay_within_memory_budget():
    gallery = unit_vectors(600_000, 2, dim=4)
    index = INDEXES.get("exact")(gallery, EvalConfig(chunk_mb=1))
    chunks = list(index.score_chunks(unit_vectors(3, 3, dim=4)))
    assert index.chunk_rows() == 1
    assert [start for start, _ in chunks] == [0, 1, 2]


def test_flat_ranks_gallery_exactly_as_exact_search():
    gallery, queries = unit_vectors(500, 4), unit_vectors(50, 5)
    exact_scores, exact_ids = INDEXES.get("exact")(gallery).search(queries, 500)
    flat_scores, flat_ids = INDEXES.get("faiss_flat")(gallery).search(queries, 500)
    assert torch.equal(flat_ids, exact_ids)
    assert torch.allclose(flat_scores, exact_scores, atol=1e-5)


def test_search_returns_at_most_gallery_size():
    gallery = unit_vectors(7, 6)
    for name in ("exact", "faiss_flat"):
        scores, ids = INDEXES.get(name)(gallery).search(unit_vectors(2, 7), 100)
        assert ids.shape == (2, 7), name
        assert scores.shape == (2, 7), name


def test_ivfpq_visiting_every_list_is_close_to_exact():
    # nprobe = nlist removes the IVF approximation and leaves PQ's. With 8 bits per 4 dims on
    # this clustered data, PQ alone returns 68 % of the exact top 10, so 60 % is the tolerance.
    # Exact re-scoring of the top 50 must recover 95 %.
    gallery, queries = clustered_vectors(4000, 8), clustered_vectors(50, 9)
    settings = EvalConfig(ivf_nlist=16, ivf_nprobe=16, pq_m=8, pq_nbits=8)
    index = INDEXES.get("faiss_ivfpq")(gallery, settings)
    truth = brute_force(queries, gallery, 10)

    _, ids = index.search(queries, 10)
    assert overlap(ids, truth) >= 0.6

    _, candidates = index.search(queries, 50)
    _, reranked = rerank(exact_scores(queries, gallery, candidates, "t2i"), candidates)
    assert overlap(reranked[:, :10], truth) >= 0.95


def overlap(found: torch.Tensor, truth: torch.Tensor) -> float:
    shared = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(found, truth))
    return shared / truth.numel()


def test_ivfpq_rejects_more_lists_than_gallery_vectors():
    settings = EvalConfig(ivf_nlist=64, pq_m=8, pq_nbits=4)
    with pytest.raises(IndexConfigError, match=r"at least 64 training vectors \(nlist=64.*has 40"):
        INDEXES.get("faiss_ivfpq")(unit_vectors(40, 10), settings)


def test_ivfpq_rejects_more_codes_than_gallery_vectors():
    settings = EvalConfig(ivf_nlist=2, pq_m=8, pq_nbits=8)
    with pytest.raises(IndexConfigError, match=r"2\^nbits=256"):
        INDEXES.get("faiss_ivfpq")(unit_vectors(100, 11), settings)


def test_ivfpq_rejects_m_that_does_not_divide_dimension():
    with pytest.raises(IndexConfigError, match=r"eval.pq_m=5 does not divide the embedding width 32"):
        ivfpq_params(1000, DIM, EvalConfig(pq_m=5))


def test_ivfpq_warns_when_undertrained(caplog):
    with caplog.at_level(logging.WARNING, logger="engine.index"):
        ivfpq_params(1000, DIM, EvalConfig(ivf_nlist=100, pq_nbits=4))
    assert "unreliable below" in caplog.text


def test_ivfpq_defaults_adapt_to_tiny_gallery():
    gallery = unit_vectors(20, 12)
    index = INDEXES.get("faiss_ivfpq")(gallery)
    _, ids = index.search(unit_vectors(3, 13), 5)
    assert index.params.nlist == 1
    assert index.params.nbits == 1
    assert ids.shape == (3, 5)


def test_ivfpq_defaults_follow_gallery_size():
    assert default_nlist(10_000) == 128
    assert default_nlist(1_000_000) == 1024
    assert default_pq_m(256) == 16
    assert default_pq_m(96) == 6
    params = ivfpq_params(1_000_000, 256, EvalConfig())
    assert (params.nlist, params.nprobe, params.m, params.nbits) == (1024, 32, 16, 8)
    assert params.train_size == 65_536


def test_memory_estimates_are_positive_and_ordered():
    gallery = clustered_vectors(2000, 14)
    flat = INDEXES.get("faiss_flat")(gallery).memory_bytes()
    ivfpq = INDEXES.get("faiss_ivfpq")(gallery, EvalConfig(pq_m=8)).memory_bytes()
    assert flat == 2000 * DIM * 4
    assert 0 < ivfpq < flat
