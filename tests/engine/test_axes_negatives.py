"""In-batch, hard and queue negatives match a hand-written InfoNCE, false-negative mask included."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from engine.config import LossConfig
from engine.losses import NEGATIVES, ContrastiveBatch, info_nce_loss

SCALE = 1 / 0.1
# Split positions → concept. Texts 0 and 2 share concept 0 with images 0 and 2 (false negatives).
TEXT_CONCEPT = [0, 1, 0, 2, 3, 1, 4, 5]
IMAGE_CONCEPT = [0, 1, 0, 2, 3, 1, 4, 5]


def scorer(text: torch.Tensor, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    scores = F.normalize(text, dim=-1) @ F.normalize(image, dim=-1).T * SCALE
    return scores, scores.T


def positives(texts: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    return torch.tensor([[TEXT_CONCEPT[t] == IMAGE_CONCEPT[i] for i in images.tolist()] for t in texts.tolist()])


def make_batch(seed: int, text_index: list[int], image_index: list[int]) -> ContrastiveBatch:
    generator = torch.Generator().manual_seed(seed)
    size = len(text_index)
    return ContrastiveBatch(text=torch.randn(size, 6, generator=generator),
                            image=torch.randn(size, 6, generator=generator),
                            text_index=torch.tensor(text_index), image_index=torch.tensor(image_index),
                            scorer=scorer, positives=positives)


def reference_row_loss(logits: list[float], own: int, allowed: list[bool]) -> float:
    """-log softmax of column ``own`` over the allowed columns (``own`` always allowed)."""
    columns = [j for j, ok in enumerate(allowed) if ok or j == own]
    log_sum = math.log(sum(math.exp(logits[j]) for j in columns))
    return log_sum - logits[own]


def reference_loss(query: torch.Tensor, keys: torch.Tensor, query_concepts: list[int], key_concepts: list[int],
                   hard_k: int | None = None) -> float:
    """Return the mean over queries. Query i's own key is column i, and same-concept keys are never negatives."""
    logits = (F.normalize(query, dim=-1) @ F.normalize(keys, dim=-1).T * SCALE).tolist()
    total = 0.0
    for i, row in enumerate(logits):
        negative = [query_concepts[i] != key_concepts[j] for j in range(len(row))]
        if hard_k is not None:
            ranked = sorted((j for j in range(len(row)) if negative[j]), key=lambda j: -row[j])[:hard_k]
            negative = [j in ranked for j in range(len(row))]
        total += reference_row_loss(row, i, negative)
    return total / len(logits)


def concepts(index: list[int], table: list[int]) -> list[int]:
    return [table[i] for i in index]


BATCH_TEXTS = [0, 1, 2, 3, 4, 5]
BATCH_IMAGES = [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("directions", ["both", "text_to_image", "image_to_text"])
def test_in_batch_loss_matches_reference(directions):
    batch = make_batch(0, BATCH_TEXTS, BATCH_IMAGES)
    loss = NEGATIVES.get("in_batch")(LossConfig(directions=directions))(batch)

    t2i = reference_loss(batch.text, batch.image, concepts(BATCH_TEXTS, TEXT_CONCEPT), concepts(BATCH_IMAGES, IMAGE_CONCEPT))
    i2t = reference_loss(batch.image, batch.text, concepts(BATCH_IMAGES, IMAGE_CONCEPT), concepts(BATCH_TEXTS, TEXT_CONCEPT))
    expected = {"both": (t2i + i2t) / 2, "text_to_image": t2i, "image_to_text": i2t}[directions]
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_false_negative_score_does_not_change_loss():
    positives = torch.tensor([[True, True, False]])  # column 1 is the same concept as the query
    low = info_nce_loss(torch.tensor([[1.0, 0.0, 0.5]]), positives)
    high = info_nce_loss(torch.tensor([[1.0, 9.0, 0.5]]), positives)

    assert low.item() == pytest.approx(high.item())
    assert low.item() == pytest.approx(reference_row_loss([1.0, 0.0, 0.5], 0, [False, False, True]))


@pytest.mark.parametrize("k", [1, 2, 10])
def test_hard_negatives_match_reference(k):
    batch = make_batch(2, BATCH_TEXTS, BATCH_IMAGES)
    loss = NEGATIVES.get("hard")(LossConfig(negatives="hard", hard_k=k))(batch)

    t2i = reference_loss(batch.text, batch.image, concepts(BATCH_TEXTS, TEXT_CONCEPT),
                         concepts(BATCH_IMAGES, IMAGE_CONCEPT), hard_k=k)
    i2t = reference_loss(batch.image, batch.text, concepts(BATCH_IMAGES, IMAGE_CONCEPT),
                         concepts(BATCH_TEXTS, TEXT_CONCEPT), hard_k=k)
    assert loss.item() == pytest.approx((t2i + i2t) / 2, rel=1e-5)


def test_queue_first_batch_equals_in_batch():
    batch = make_batch(3, BATCH_TEXTS, BATCH_IMAGES)
    queue = NEGATIVES.get("queue")(LossConfig(negatives="queue", queue_size=16))
    assert queue(batch).item() == pytest.approx(NEGATIVES.get("in_batch")(LossConfig())(batch).item(), rel=1e-6)


def test_queue_adds_past_batches_with_mask():
    queue = NEGATIVES.get("queue")(LossConfig(negatives="queue", queue_size=16))
    first = make_batch(4, [0, 1, 3], [0, 1, 3])
    second = make_batch(5, [2, 6, 7], [2, 6, 7])   # text 2 shares concept 0 with queued image 0
    queue(first)
    loss = queue(second)

    images = torch.cat([second.image, first.image])
    texts = torch.cat([second.text, first.text])
    image_concepts = concepts([2, 6, 7, 0, 1, 3], IMAGE_CONCEPT)
    text_concepts = concepts([2, 6, 7, 0, 1, 3], TEXT_CONCEPT)
    t2i = reference_loss(second.text, images, concepts([2, 6, 7], TEXT_CONCEPT), image_concepts)
    i2t = reference_loss(second.image, texts, concepts([2, 6, 7], IMAGE_CONCEPT), text_concepts)
    assert loss.item() == pytest.approx((t2i + i2t) / 2, rel=1e-5)


def test_queue_keeps_newest_entries_only():
    queue = NEGATIVES.get("queue")(LossConfig(negatives="queue", queue_size=4))
    first = make_batch(6, [0, 1, 3], [0, 1, 3])
    second = make_batch(7, [4, 5, 6], [4, 5, 6])
    queue(first)
    queue(second)
    assert queue.queued["image_index"].tolist() == [4, 5, 6, 0]
    assert torch.equal(queue.queued["text"][:3], second.text)


def test_queue_entries_carry_no_gradient():
    queue = NEGATIVES.get("queue")(LossConfig(negatives="queue", queue_size=8))
    batch = make_batch(8, [0, 1, 3], [0, 1, 3])
    batch.text.requires_grad_(True)
    queue(batch)
    assert not queue.queued["text"].requires_grad
