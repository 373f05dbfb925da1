"""``info_nce_loss`` and the negative-sampling strategies built on it.

Every strategy masks false negatives: a pair whose text lists the other pair's image as a
positive (same concept, or an identical caption) is never pushed apart. ``positives[i, j]``
is True when text ``i`` and image ``j`` belong together; the diagonal is always True.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from engine.config import LossConfig
from engine.registry import Registry

NEGATIVES: Registry[Callable[[LossConfig], nn.Module]] = Registry("negatives")


def info_nce_loss(logits: torch.Tensor, positives: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of each row's own column (the diagonal) against its negatives.

    ``logits`` is ``[B, N]`` with the row's own positive at column ``i``; off-diagonal
    positives are excluded from the denominator; ``keep`` (optional, ``[B, N]``) further
    restricts which negatives count.
    """
    rows = torch.arange(logits.shape[0], device=logits.device)
    excluded = positives.clone()
    excluded[rows, rows] = False
    if keep is not None:
        excluded |= ~keep
        excluded[rows, rows] = False
    masked = logits.masked_fill(excluded, float("-inf"))
    return F.cross_entropy(masked, rows)


def directional_losses(logits_t2i: torch.Tensor, logits_i2t: torch.Tensor, positives: torch.Tensor,
                       directions: str, keep_t2i: torch.Tensor | None = None,
                       keep_i2t: torch.Tensor | None = None) -> torch.Tensor:
    """Average the InfoNCE losses of the requested directions."""
    losses = []
    if directions in ("both", "text_to_image"):
        losses.append(info_nce_loss(logits_t2i, positives, keep_t2i))
    if directions in ("both", "image_to_text"):
        losses.append(info_nce_loss(logits_i2t, positives.T, keep_i2t))
    return torch.stack(losses).mean()


@NEGATIVES.register("in_batch", help="every other pair of the batch is a negative")
class InBatchNegatives(nn.Module):
    def __init__(self, config: LossConfig) -> None:
        super().__init__()
        self.directions = config.directions

    def forward(self, logits_t2i: torch.Tensor, logits_i2t: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
        return directional_losses(logits_t2i, logits_i2t, positives, self.directions)


def hardest_negatives(logits: torch.Tensor, positives: torch.Tensor, k: int) -> torch.Tensor:
    """Return a ``[B, N]`` mask keeping each row's ``k`` highest-scoring true negatives."""
    candidates = logits.detach().masked_fill(positives, float("-inf"))
    k = min(k, candidates.shape[1])
    top = candidates.topk(k, dim=1).indices
    keep = torch.zeros_like(positives)
    keep.scatter_(1, top, True)
    return keep & ~positives


@NEGATIVES.register("hard", help="only the loss.hard_k most similar in-batch negatives per query")
class HardNegatives(nn.Module):
    def __init__(self, config: LossConfig) -> None:
        super().__init__()
        self.directions = config.directions
        self.k = config.hard_k

    def forward(self, logits_t2i: torch.Tensor, logits_i2t: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
        keep_t2i = hardest_negatives(logits_t2i, positives, self.k)
        keep_i2t = hardest_negatives(logits_i2t, positives.T, self.k)
        return directional_losses(logits_t2i, logits_i2t, positives, self.directions, keep_t2i, keep_i2t)
