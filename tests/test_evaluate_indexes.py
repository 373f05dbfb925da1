"""score_embeddings with every index and re-scorer, on seeded synthetic embeddings."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.config import EvalConfig, ExperimentConfig
from engine.data.records import RetrievalSplit, TextRecord
from engine.evaluate import score_direction, score_embeddings

DIM = 32


def synthetic_split(images: int, captions_per_image: int, seed: int,
                    noise: float) -> tuple[RetrievalSplit, torch.Tensor, torch.Tensor]:
    """Return a split whose captions are noisy copies of their image's embedding."""
    generator = torch.Generator().manual_seed(seed)
    image = F.normalize(torch.randn(images, DIM, generator=generator), dim=1)
    owner = torch.arange(images).repeat_interleave(captions_per_image)
    text = F.normalize(image[owner] + noise * torch.randn(len(owner), DIM, generator=generator), dim=1)
    records = [TextRecord(text_id=i, text=f"caption {i}", image_ids=(int(o),)) for i, o in enumerate(owner)]
    split = RetrievalSplit(name="test", texts=records, image_ids=list(range(images)), images=None)
    return split, text, image


def config_for(**eval_settings) -> ExperimentConfig:
    return ExperimentConfig(eval=EvalConfig(latency_queries=5, **eval_settings))


def test_flat_metrics_equal_exact_when_top_k_covers_gallery():
    split, text, image = synthetic_split(60, 2, seed=0, noise=0.8)
    exact = score_embeddings(config_for(index="exact"), split, text, image)
    flat = score_embeddings(config_for(index="faiss_flat", top_k=200), split, text, image)
    for key in ("t2i/R@1", "t2i/R@10", "t2i/mAP", "t2i/NDCG@10", "i2t/R@1", "i2t/mAP", "mean_recall"):
        assert abs(exact[key] - flat[key]) < 1e-9, key


def test_flat_top_k_keeps_recall_and_lowers_map_bound():
    split, text, image = synthetic_split(200, 1, seed=1, noise=1.0)
    exact = score_embeddings(config_for(index="exact"), split, text, image)
    flat = score_embeddings(config_for(index="faiss_flat", top_k=10), split, text, image)
    assert abs(exact["t2i/R@10"] - flat["t2i/R@10"]) < 1e-9
    assert abs(exact["t2i/NDCG@10"] - flat["t2i/NDCG@10"]) < 1e-9
    assert flat["t2i/mAP"] <= exact["t2i/mAP"]


def test_exact_rerank_never_lowers_r1_below_index():
    # Each caption is closest to its own image, so exact re-scoring puts the relevant image
    # first whenever IVF-PQ returned it at all.
    split, text, image = synthetic_split(1000, 1, seed=2, noise=0.3)
    config = config_for(index="faiss_ivfpq", rerank="exact", top_k=20, ivf_nlist=16, ivf_nprobe=2, pq_m=4)
    metrics = score_embeddings(config, split, text, image)
    assert metrics["t2i/R@1"] >= metrics["t2i/before_rerank/R@1"]
    assert metrics["i2t/R@1"] >= metrics["i2t/before_rerank/R@1"]
    assert metrics["mean_recall"] >= metrics["before_rerank/mean_recall"]


def test_ivfpq_recall_loss_is_reported():
    split, text, image = synthetic_split(1000, 1, seed=3, noise=0.3)
    exact = score_embeddings(config_for(index="exact"), split, text, image)
    coarse = score_embeddings(config_for(index="faiss_ivfpq", ivf_nlist=32, ivf_nprobe=1, pq_m=2), split, text, image)
    assert coarse["t2i/R@10"] < exact["t2i/R@10"]


def test_latency_and_index_fields_are_filled():
    split, text, image = synthetic_split(50, 2, seed=4, noise=0.5)
    for index in ("exact", "faiss_flat", "faiss_ivfpq"):
        metrics = score_embeddings(config_for(index=index), split, text, image)
        for key in ("eval/latency_p50_ms", "eval/latency_p95_ms", "eval/index_build_seconds",
                    "eval/index_memory_mb", "i2t/latency_p50_ms", "eval/search_seconds"):
            assert metrics[key] > 0, (index, key)
        assert metrics["eval/latency_p95_ms"] >= metrics["eval/latency_p50_ms"], index


def test_direction_without_relevant_items_returns_nothing():
    gallery = F.normalize(torch.randn(5, DIM), dim=1)
    assert score_direction(gallery, gallery, [frozenset()] * 5, EvalConfig(), "t2i") == {}
