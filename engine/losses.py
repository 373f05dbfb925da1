"""``info_nce_loss`` and the negative-sampling strategies built on it.

Every strategy masks false negatives: a pair whose text lists the other pair's image as a
positive (same concept, or an identical caption) is never pushed apart. ``positives[i, j]``
is True when text ``i`` and image ``j`` belong together; the diagonal is always True.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from engine.config import LossConfig
from engine.registry import Registry

NEGATIVES: Registry[Callable[[LossConfig], nn.Module]] = Registry("negatives")


def info_nce_loss(logits: torch.Tensor, positives: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
    """Return the cross-entropy of each row's own column (the diagonal) against its negatives.

    ``logits`` is ``[B, N]`` with row ``i``'s own positive at column ``i``. Off-diagonal
    positives are left out of the denominator. The optional ``keep`` mask (``[B, N]``) further
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


@dataclass
class ContrastiveBatch:
    """One (micro-)batch as a negatives strategy sees it."""

    text: torch.Tensor         # [B, D] text embeddings (head outputs, before normalisation)
    image: torch.Tensor        # [B, D] image embeddings; row i is the pair of text row i
    text_index: torch.Tensor   # [B] positions of the captions in the training split
    image_index: torch.Tensor  # [B] positions of the images in the training split's gallery
    # The model's scaled logits of texts against images: (text_to_image [T, I], image_to_text [I, T]).
    scorer: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
    # [T, I] bool, True where a caption belongs with an image (``PairIndex.positives``).
    positives: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

    def positive_mask(self, text_index: torch.Tensor, image_index: torch.Tensor) -> torch.Tensor:
        return self.positives(text_index, image_index).to(self.text.device)


def directional_losses(logits_t2i: torch.Tensor, logits_i2t: torch.Tensor, positives_t2i: torch.Tensor,
                       positives_i2t: torch.Tensor, directions: str, keep_t2i: torch.Tensor | None = None,
                       keep_i2t: torch.Tensor | None = None) -> torch.Tensor:
    """Average the InfoNCE losses of the requested directions.

    Each logits matrix has one row per query of the batch and its own positive at column ``i``.
    ``positives_*`` mark the other columns that must not count as negatives.
    """
    losses = []
    if directions in ("both", "text_to_image"):
        losses.append(info_nce_loss(logits_t2i, positives_t2i, keep_t2i))
    if directions in ("both", "image_to_text"):
        losses.append(info_nce_loss(logits_i2t, positives_i2t, keep_i2t))
    return torch.stack(losses).mean()


@NEGATIVES.register("in_batch", help="every other pair of the batch is a negative")
class InBatchNegatives(nn.Module):
    def __init__(self, config: LossConfig) -> None:
        super().__init__()
        self.directions = config.directions

    def forward(self, batch: ContrastiveBatch) -> torch.Tensor:
        logits_t2i, logits_i2t = batch.scorer(batch.text, batch.image)
        positives = batch.positive_mask(batch.text_index, batch.image_index)
        return directional_losses(logits_t2i, logits_i2t, positives, positives.T, self.directions)


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

    def forward(self, batch: ContrastiveBatch) -> torch.Tensor:
        logits_t2i, logits_i2t = batch.scorer(batch.text, batch.image)
        positives = batch.positive_mask(batch.text_index, batch.image_index)
        keep_t2i = hardest_negatives(logits_t2i, positives, self.k)
        keep_i2t = hardest_negatives(logits_i2t, positives.T, self.k)
        return directional_losses(logits_t2i, logits_i2t, positives, positives.T, self.directions,
                                  keep_t2i, keep_i2t)


@NEGATIVES.register("queue", help="in-batch negatives plus a FIFO memory of loss.queue_size past embeddings")
class QueueNegatives(nn.Module):
    """In-batch negatives plus embeddings of earlier batches, kept in a first-in-first-out queue.

    There is no momentum encoder: the queue holds detached outputs of the model as it was when
    they were computed. With frozen backbones (the default) only the heads move, so recent
    entries stay close to what the current model would produce, and a momentum copy would
    double the model's memory. Keep ``loss.queue_size`` at a few batches when backbones train
    at a high LR, because older entries then drift further. Queued items keep their split
    positions, so a queued image of the query's own concept is masked like an in-batch one.

    NOTE: the queue lives in memory only. Checkpoints do not store it, so a resumed run starts
    with an empty queue and its first steps differ from an uninterrupted run.
    """

    def __init__(self, config: LossConfig) -> None:
        super().__init__()
        self.directions = config.directions
        self.size = config.queue_size
        self.queued: dict[str, torch.Tensor] = {}

    def forward(self, batch: ContrastiveBatch) -> torch.Tensor:
        images = self._with_queue("image", batch.image)
        image_index = self._with_queue("image_index", batch.image_index)
        texts = self._with_queue("text", batch.text)
        text_index = self._with_queue("text_index", batch.text_index)

        logits_t2i, _ = batch.scorer(batch.text, images)    # [B, B + Q]
        _, logits_i2t = batch.scorer(texts, batch.image)    # [B, B + Q]
        positives_t2i = batch.positive_mask(batch.text_index, image_index)
        positives_i2t = batch.positive_mask(text_index, batch.image_index).T
        loss = directional_losses(logits_t2i, logits_i2t, positives_t2i, positives_i2t, self.directions)

        self._enqueue(batch)
        return loss

    def _with_queue(self, key: str, current: torch.Tensor) -> torch.Tensor:
        queued = self.queued.get(key)
        return current if queued is None else torch.cat([current, queued.to(current.dtype)])

    @torch.no_grad()
    def _enqueue(self, batch: ContrastiveBatch) -> None:
        # Newest first, so that truncation to ``size`` drops the oldest entries.
        current = {"text": batch.text, "image": batch.image,
                   "text_index": batch.text_index, "image_index": batch.image_index}
        for key, values in current.items():
            self.queued[key] = self._with_queue(key, values.detach())[:self.size]
