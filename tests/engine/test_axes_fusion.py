"""Early fusion: FeatureFusion scores pairs, re-ranks the late top-k, and trains end to end."""

from __future__ import annotations

import pytest
import torch

from engine.config import EvalConfig

from engine.config import FusionConfig
from engine.evaluate import score_direction
from engine.models.fusion import FeatureFusion, fusion_rescorer, rerank_top_k
from engine.train import run
from tests.engine.axes_support import RecordingSink, build_trainer, first_batch, axes_config



def small_fusion() -> FeatureFusion:
    torch.manual_seed(0)
    return FeatureFusion(FusionConfig(kind="early", hidden_dim=8), text_dim=5, image_dim=7).eval()


def test_score_grid_equals_pairwise_scores():
    fusion = small_fusion()
    text, image = torch.randn(3, 5), torch.randn(4, 7)
    grid = fusion.score_grid(text, image)
    for t in range(3):
        for i in range(4):
            torch.testing.assert_close(grid[t, i], fusion(text[t:t + 1], image[i:i + 1])[0])


def test_score_candidates_equals_grid_entries():
    fusion = small_fusion()
    text, image = torch.randn(3, 5), torch.randn(4, 7)
    grid = fusion.score_grid(text, image)                       # [texts, images]

    text_candidates = torch.tensor([[2, 0], [1, 3], [3, 2]])    # images per text query
    torch.testing.assert_close(fusion.score_candidates(text, image, text_candidates, query_is_text=True),
                               torch.gather(grid, 1, text_candidates))

    image_candidates = torch.tensor([[2, 0], [1, 2], [0, 1], [2, 1]])  # texts per image query
    torch.testing.assert_close(fusion.score_candidates(image, text, image_candidates, query_is_text=False),
                               torch.gather(grid.T, 1, image_candidates))


def test_rerank_orders_candidates_by_fusion_then_rest_by_late():
    late = torch.tensor([[0.9, 0.8, 0.7, 0.1, 0.0]])
    candidates = torch.tensor([[0, 1, 2]])
    fusion = torch.tensor([[-3.0, 5.0, 1.0]])  # fusion prefers 1, then 2, then 0

    ranked = rerank_top_k(late, fusion, candidates).argsort(dim=1, descending=True)

    assert ranked[0].tolist() == [1, 2, 0, 3, 4]


def test_rerank_k_at_gallery_size_ranks_by_fusion_alone():
    fusion = small_fusion()
    text, image = torch.randn(4, 5), torch.randn(6, 7)
    late = torch.randn(4, 6)
    rescore = fusion_rescorer(fusion, text, image, k=6, query_is_text=True, device=torch.device("cpu"))

    reranked = rescore(torch.arange(4), late)

    expected_order = fusion.score_grid(text, image).argsort(dim=1, descending=True)
    assert torch.equal(reranked.argsort(dim=1, descending=True), expected_order)


def test_rescore_hook_changes_direction_metrics():
    gallery = torch.eye(3)
    queries = torch.eye(3)[[1, 2, 0]]           # late scores put every relevant item last but one
    relevant = [frozenset({0}), frozenset({1}), frozenset({2})]

    def perfect(rows: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return torch.eye(3)[rows] * 10

    settings = EvalConfig()
    late = score_direction(queries, gallery, relevant, settings, "t2i")
    fused = score_direction(queries, gallery, relevant, settings, "t2i", fusion=perfect)
    assert late["t2i/R@1"] == 0.0
    assert fused["t2i/R@1"] == 100.0


def test_early_fusion_trains_fusion_head(toy_dataset):
    trainer = build_trainer(axes_config(toy_dataset, {"fusion.kind": "early"}))
    before = {n: p.detach().clone() for n, p in trainer.model.fusion.named_parameters()}
    trainer.train_step(first_batch(trainer))
    after = dict(trainer.model.fusion.named_parameters())
    assert all(not torch.equal(before[n], after[n]) for n in ("score.1.weight", "joint.weight", "text_in.1.weight"))


def test_late_fusion_builds_no_fusion_module(toy_dataset):
    assert build_trainer(axes_config(toy_dataset)).model.fusion is None


def test_early_fusion_run_evaluates_with_rerank(toy_dataset):
    result = run(axes_config(toy_dataset, {"fusion.kind": "early", "fusion.rerank_k": 4}), RecordingSink())
    assert 0.0 <= result.metrics["t2i/R@1"] <= 100.0
    assert "early(rerank@4)" in result.summary
