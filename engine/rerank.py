"""Re-scorers: re-score each query's top-k index candidates, then re-order them by the new score.

An approximate index (IVF-PQ) orders its candidates by quantized scores. A re-scorer computes
a better score for those k candidates alone, which costs k per query instead of the gallery
size. ``exact`` re-scores with float32 inner products of the stored embeddings.

A re-scorer that needs more than the two embedding matrices (a model, backbone features) is
built by the caller and passed to ``score_embeddings(..., rescorer=...)``. Its registry entry
then only makes the name valid in configs.
"""

from __future__ import annotations

from typing import Callable, Protocol

import torch

from engine.config import ExperimentConfig
from engine.registry import Registry


class Rescorer(Protocol):
    """Scores given candidates of each query; higher is better."""

    def __call__(self, queries: torch.Tensor, gallery: torch.Tensor, candidates: torch.Tensor,
                 direction: str) -> torch.Tensor:
        """Return ``[queries × k]`` scores of ``candidates`` (gallery positions, -1 = none).

        ``direction`` is ``t2i`` or ``i2t``, for re-scorers that are not symmetric.
        """
        ...


RESCORERS: Registry[Callable[[ExperimentConfig], Rescorer | None]] = Registry("rescorer")


@RESCORERS.register("none", help="keep the index's own order")
def no_rescorer(config: ExperimentConfig) -> None:
    return None


@RESCORERS.register("exact", help="float32 inner product of the query with each candidate")
def exact_rescorer(config: ExperimentConfig) -> Rescorer:
    return exact_scores


def exact_scores(queries: torch.Tensor, gallery: torch.Tensor, candidates: torch.Tensor,
                 direction: str) -> torch.Tensor:
    """Return exact inner products of each query with its candidates; -inf where the id is -1."""
    valid = candidates >= 0
    vectors = gallery.float()[candidates.clamp(min=0)]  # [queries × k × dim]
    scores = torch.einsum("qd,qkd->qk", queries.float(), vectors)
    return scores.masked_fill(~valid, float("-inf"))


def rerank(scores: torch.Tensor, candidates: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(scores, candidates)`` sorted by the new scores, keeping index order on ties."""
    order = torch.argsort(scores, dim=1, descending=True, stable=True)
    return scores.gather(1, order), candidates.gather(1, order)
