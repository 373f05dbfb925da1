"""A whole tiny run records its timings and memory peaks under stable metric keys."""

from __future__ import annotations

from engine.config import ExperimentConfig
from engine.train import run
from tests.fixtures import write_toy_dataset


def test_run_records_latency_and_memory(tmp_path):
    config = ExperimentConfig()
    config.data.root = str(write_toy_dataset(tmp_path / "toy"))
    config.text.backbone = "tiny-bert-zh"
    config.image.pretrained = False
    config.train.steps, config.train.batch_size, config.train.log_every = 2, 8, 1
    config.eval.index, config.eval.rerank, config.eval.latency_queries = "faiss_flat", "exact", 4

    metrics = run(config).metrics

    for key in ("train/samples_per_s", "train/peak_rss_mb", "eval/peak_rss_mb", "peak_rss_mb",
                "eval/encode_text_ms_per_item", "eval/encode_image_ms_per_item",
                "eval/latency_p50_ms", "eval/latency_p95_ms", "eval/index_build_seconds",
                "eval/index_memory_mb", "t2i/before_rerank/R@1", "t2i/R@1"):
        assert key in metrics, key
        assert metrics[key] >= 0, key
    assert metrics["eval/latency_p50_ms"] > 0
    assert metrics["peak_rss_mb"] >= metrics["eval/peak_rss_mb"]
