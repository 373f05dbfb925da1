"""PairIndex.positives against a plain set-membership reference."""

from __future__ import annotations

import torch

from engine.data.pipeline import PairIndex
from engine.data.records import RetrievalSplit, TextRecord


def reference_positives(pairs: PairIndex, texts: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    return torch.tensor([[int(image) in pairs.text_images[int(text)] for image in images] for text in texts])


def test_positives_match_set_membership():
    texts = [TextRecord(text_id=i, text=str(i), image_ids=tuple(range(i % 3, 9, 3))) for i in range(12)]
    texts.append(TextRecord(text_id=99, text="unmatched", image_ids=(1000,)))
    split = RetrievalSplit(name="train", texts=texts, image_ids=list(range(9)), images=None)
    pairs = PairIndex(split)
    batch = torch.randint(len(pairs), (16,), generator=torch.Generator().manual_seed(0))
    text, image = pairs.pair_text[batch], pairs.pair_image[batch]

    positives = pairs.positives(text, image)

    assert positives.dtype == torch.bool
    assert torch.equal(positives, reference_positives(pairs, text, image))
    assert bool(positives.diagonal().all())


def test_positives_of_unmatched_text_are_false():
    texts = [TextRecord(text_id=0, text="a", image_ids=(5,)), TextRecord(text_id=1, text="b", image_ids=())]
    split = RetrievalSplit(name="train", texts=texts, image_ids=[5, 6], images=None)
    pairs = PairIndex(split)

    positives = pairs.positives(torch.tensor([0, 1]), torch.tensor([0, 1]))

    assert positives.tolist() == [[True, False], [False, False]]
