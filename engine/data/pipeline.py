"""From a ``RetrievalSplit`` to training batches: pairs, sampling order, transforms, collation.

Training iterates over (text, image) pairs: every text with every image it lists. The order is
a chain of seeded per-epoch permutations indexed by global position, so the batch at any step
can be recomputed from (seed, step) alone, which is what makes resuming exact.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Callable, Iterator

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2 as transforms

from engine.data.records import RetrievalSplit
from engine.reproducibility import generator


class PairIndex:
    """The training pairs of a split, with positive sets for false-negative masking."""

    def __init__(self, split: RetrievalSplit) -> None:
        self.image_position = {image_id: i for i, image_id in enumerate(split.image_ids)}
        self.text_images: list[frozenset[int]] = []
        text_of_pair, image_of_pair = [], []
        for t, record in enumerate(split.texts):
            images = frozenset(self.image_position[i] for i in record.image_ids if i in self.image_position)
            self.text_images.append(images)
            for image in sorted(images):
                text_of_pair.append(t)
                image_of_pair.append(image)
        self.pair_text = torch.tensor(text_of_pair, dtype=torch.long)
        self.pair_image = torch.tensor(image_of_pair, dtype=torch.long)
        # Every relevant (text, image) combination is a pair, so a sorted key per pair lets
        # `positives` test a whole batch with one binary search instead of B² set lookups.
        self.image_count = max(1, len(split.image_ids))
        self.pair_keys = np.sort((self.pair_text * self.image_count + self.pair_image).numpy())

    def __len__(self) -> int:
        return len(self.pair_text)

    def positives(self, texts: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Return ``[B, B]`` with True where text ``i`` lists image ``j`` (same concept or caption)."""
        keys = texts.cpu().numpy()[:, None] * self.image_count + images.cpu().numpy()[None, :]
        if len(self.pair_keys) == 0:
            return torch.zeros(keys.shape, dtype=torch.bool)
        found = np.searchsorted(self.pair_keys, keys).clip(max=len(self.pair_keys) - 1)
        return torch.from_numpy(self.pair_keys[found] == keys)


class StepBatchSampler:
    """Yields the pair indices of each optimizer step from ``start_step`` on."""

    def __init__(self, num_pairs: int, batch_size: int, seed: int, total_steps: int, start_step: int = 0) -> None:
        if num_pairs < batch_size:
            raise ValueError(f"train.batch_size: {batch_size} is larger than the {num_pairs} training pairs; "
                             "lower it")
        self.num_pairs, self.batch_size, self.seed = num_pairs, batch_size, seed
        self.total_steps, self.start_step = total_steps, start_step

    @lru_cache(maxsize=4)
    def _permutation(self, epoch: int) -> torch.Tensor:
        return torch.randperm(self.num_pairs, generator=generator(self.seed, 1, epoch))

    def batch(self, step: int) -> torch.Tensor:
        positions = torch.arange(step * self.batch_size, (step + 1) * self.batch_size)
        epochs, offsets = positions // self.num_pairs, positions % self.num_pairs
        return torch.stack([self._permutation(int(e))[int(o)] for e, o in zip(epochs, offsets)])

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        # Each item carries its global position so augmentation can be seeded per sample,
        # independent of how many DataLoader workers there are.
        for step in range(self.start_step, self.total_steps):
            first = step * self.batch_size
            yield [(pair, first + i) for i, pair in enumerate(self.batch(step).tolist())]

    def __len__(self) -> int:
        return self.total_steps - self.start_step


def image_transform(image_size: int, mean: tuple[float, ...], std: tuple[float, ...],
                    augmentation: Callable | None = None) -> Callable[[Image.Image], torch.Tensor]:
    """Return PIL → normalised float tensor ``[3, S, S]``, with an optional training augmentation."""
    steps: list[Callable] = [transforms.ToImage()]
    if augmentation is not None:
        steps.append(augmentation)
    steps += [transforms.Resize((image_size, image_size), antialias=True),
              transforms.ToDtype(torch.float32, scale=True), transforms.Normalize(mean, std)]
    return transforms.Compose(steps)


class PairDataset(torch.utils.data.Dataset):
    """Item ``(pair, position)``: the pair's caption and transformed image.

    Augmentation randomness is seeded by (run seed, global sample position), so a resumed or
    re-run step sees the same augmented batch.
    """

    def __init__(self, split: RetrievalSplit, pairs: PairIndex, transform: Callable,
                 text_augment: Callable[[str, random.Random], str] | None, seed: int) -> None:
        self.split, self.pairs, self.transform = split, pairs, transform
        self.text_augment, self.seed = text_augment, seed

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, key: tuple[int, int]) -> tuple[str, torch.Tensor, int, int]:
        pair, position = key
        text = int(self.pairs.pair_text[pair])
        image = int(self.pairs.pair_image[pair])
        sample_seed = int(generator(self.seed, 2, position).initial_seed())
        caption = self.split.texts[text].text
        if self.text_augment is not None:
            caption = self.text_augment(caption, random.Random(sample_seed))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(sample_seed)
            pixels = self.transform(self.split.load_image(self.split.image_ids[image]))
        return caption, pixels, text, image


class Collator:
    """Stacks a batch of pairs and tokenizes its captions (runs in DataLoader workers)."""

    def __init__(self, tokenize: Callable[[list[str]], dict[str, torch.Tensor]]) -> None:
        self.tokenize = tokenize

    def __call__(self, items: list[tuple[str, torch.Tensor, int, int]]) -> dict:
        captions, images, texts, image_positions = zip(*items)
        return {"text_inputs": self.tokenize(list(captions)), "images": torch.stack(images),
                "text_index": torch.tensor(texts), "image_index": torch.tensor(image_positions)}
