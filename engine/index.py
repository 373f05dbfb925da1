"""Retrieval indexes: given gallery embeddings, rank the gallery for a block of queries.

``exact`` computes similarities in query chunks, so memory stays at ``chunk × gallery``
scores even for large galleries.
"""

from __future__ import annotations

from typing import Callable, Iterator

import torch

from engine.registry import Registry

INDEXES: Registry[Callable[..., "RetrievalIndex"]] = Registry("index")


class RetrievalIndex:
    """Scores query blocks against a fixed gallery."""

    def __init__(self, gallery: torch.Tensor, chunk_size: int = 1024) -> None:
        self.gallery = gallery
        self.chunk_size = chunk_size

    def score_chunks(self, queries: torch.Tensor) -> Iterator[tuple[int, torch.Tensor]]:
        """Yield ``(first_query_index, scores [chunk × gallery])`` for successive query chunks."""
        raise NotImplementedError


@INDEXES.register("exact", help="brute-force inner products in query chunks (float32)")
class ExactIndex(RetrievalIndex):
    def score_chunks(self, queries: torch.Tensor) -> Iterator[tuple[int, torch.Tensor]]:
        gallery = self.gallery.float()
        for start in range(0, queries.shape[0], self.chunk_size):
            yield start, queries[start:start + self.chunk_size].float() @ gallery.T
