"""Where the modalities meet: late fusion (no extra module) or early fusion with ``FeatureFusion``.

Late fusion embeds captions and images separately and compares the embeddings with the
``SimilarityCalculator``, so a gallery is embedded once and searched with an index.

Early fusion concatenates a caption's and an image's backbone features and scores the pair with
one shared head. It takes both inputs at once and returns a score per *pair*, not an embedding,
so it cannot be indexed. An early-fusion model therefore keeps its late heads and trains both:
the late InfoNCE loss plus the same loss on the fusion scores of every in-batch pair. It
retrieves in two stages. The late similarity picks each query's top ``fusion.rerank_k`` gallery
items, and the fusion head re-orders them. The cost is ``queries × rerank_k`` head evaluations
on top of the late search, and ``B²`` per training batch of ``B`` pairs. A ``rerank_k`` at
least the gallery size scores every pair (``queries × gallery`` evaluations), which suits
small galleries only.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from engine.config import FusionConfig
from engine.registry import Registry

FUSIONS: Registry[Callable[[FusionConfig, int, int], nn.Module | None]] = Registry("fusion")

# Re-scores one chunk of queries: (original query positions [C], late scores [C, gallery]) → scores.
Rescorer = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@FUSIONS.register("late", help="compare separate embeddings with the similarity (baseline)")
def build_late_fusion(config: FusionConfig, text_dim: int, image_dim: int) -> None:
    return None


@FUSIONS.register("early", help="FeatureFusion: a head scores concatenated text and image features")
class FeatureFusion(nn.Module):
    """Scores (text, image) pairs from their backbone features; higher means a better match.

    Each side is normalised and projected to ``hidden_dim``. The head is an MLP on the
    concatenation ``[t, v, t⊙v]``, because an MLP on ``[t, v]`` alone has to learn
    multiplicative interactions from scratch. Scores are raw logits: the temperature scales
    only late scores.
    """

    def __init__(self, config: FusionConfig, text_dim: int, image_dim: int) -> None:
        super().__init__()
        hidden = config.hidden_dim
        self.text_in = nn.Sequential(nn.LayerNorm(text_dim), nn.Linear(text_dim, hidden))
        self.image_in = nn.Sequential(nn.LayerNorm(image_dim), nn.Linear(image_dim, hidden))
        self.joint = nn.Linear(3 * hidden, hidden)
        self.score = nn.Sequential(nn.GELU(), nn.Linear(hidden, 1))

    def forward(self, text_features: torch.Tensor, image_features: torch.Tensor) -> torch.Tensor:
        """Return one score per aligned pair: ``[N, Dt] × [N, Di] → [N]``."""
        text, image = self.text_in(text_features), self.image_in(image_features)
        return self.score(self.joint(torch.cat([text, image, text * image], dim=-1))).squeeze(-1)

    def score_grid(self, text_features: torch.Tensor, image_features: torch.Tensor) -> torch.Tensor:
        """Return the scores of every text with every image: ``[T, Dt] × [I, Di] → [T, I]``.

        The joint layer is split into its text, image and product blocks. The first two depend
        on one side only, so they run once per item instead of once per pair, which is what
        keeps a ``B × B`` training grid affordable.
        """
        text, image = self.text_in(text_features), self.image_in(image_features)
        text_block, image_block, product_block = self.joint.weight.split(text.shape[-1], dim=1)
        per_text = text @ text_block.T + self.joint.bias              # [T, H]
        per_image = image @ image_block.T                              # [I, H]
        product = (text.unsqueeze(1) * image.unsqueeze(0)) @ product_block.T  # [T, I, H]
        hidden = per_text.unsqueeze(1) + per_image.unsqueeze(0) + product
        return self.score(hidden).squeeze(-1)

    def score_candidates(self, queries: torch.Tensor, gallery: torch.Tensor, candidates: torch.Tensor,
                         query_is_text: bool) -> torch.Tensor:
        """Return ``[Q, k]`` scores of each query with its ``candidates`` (gallery positions)."""
        chosen = gallery[candidates]                               # [Q, k, D]
        expanded = queries.unsqueeze(1).expand(-1, candidates.shape[1], -1)
        text, image = (expanded, chosen) if query_is_text else (chosen, expanded)
        return self(text.reshape(-1, text.shape[-1]), image.reshape(-1, image.shape[-1])).view_as(candidates)


def rerank_top_k(late_scores: torch.Tensor, fusion_scores: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """Return scores that rank ``candidates`` first, by fusion score, and the rest by late score.

    Candidates are lifted above the row's best late score, keeping their fusion order, so any
    ranking code that sorts the result needs no knowledge of re-ranking.
    """
    lifted = fusion_scores - fusion_scores.min(dim=1, keepdim=True).values
    lifted = lifted + late_scores.max(dim=1, keepdim=True).values + 1.0
    rescored = late_scores.clone()
    rescored.scatter_(1, candidates, lifted.to(rescored.dtype))
    return rescored


@torch.no_grad()
def fusion_rescorer(fusion: FeatureFusion, queries: torch.Tensor, gallery: torch.Tensor, k: int,
                    query_is_text: bool, device: torch.device) -> Rescorer:
    """Build the evaluation hook that re-ranks each query's late top ``k`` with ``fusion``.

    ``queries`` and ``gallery`` are backbone features in split order (as ``SplitFeatures``).
    """
    gallery_on_device = gallery.to(device)

    @torch.no_grad()
    def rescore(query_rows: torch.Tensor, late_scores: torch.Tensor) -> torch.Tensor:
        candidates = late_scores.topk(min(k, late_scores.shape[1]), dim=1).indices
        was_training = fusion.training
        fusion.eval()
        try:
            scores = fusion.score_candidates(queries[query_rows].to(device), gallery_on_device,
                                             candidates.to(device), query_is_text)
        finally:
            fusion.train(was_training)
        return rerank_top_k(late_scores, scores.float().cpu(), candidates)

    return rescore
