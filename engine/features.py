"""Encoding a split with the model: backbone features (cacheable) and projected embeddings.

When both backbones are frozen and no augmentation is on, backbone features never change,
so they are computed once and training runs the heads alone on cached tensors.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import torch

from engine.data.records import RetrievalSplit
from engine.models.model import CrossModalRetrievalModel


@dataclass
class SplitFeatures:
    """Backbone features of every text and gallery image of a split, in split order."""

    text: torch.Tensor   # [texts, text feature width]
    image: torch.Tensor  # [images, image feature width]
    text_seconds: float = 0.0   # wall time of the text backbone pass, tokenising included
    image_seconds: float = 0.0  # wall time of the image backbone pass, decoding and resizing included


@torch.no_grad()
def encode_text_features(model: CrossModalRetrievalModel, texts: list[str], batch_size: int,
                         device: torch.device) -> torch.Tensor:
    chunks = []
    for start in range(0, len(texts), batch_size):
        inputs = model.text_encoder.tokenize(texts[start:start + batch_size])
        chunks.append(model.text_features(_to(inputs, device)).float().cpu())
    return torch.cat(chunks)


@torch.no_grad()
def encode_image_features(model: CrossModalRetrievalModel, split: RetrievalSplit,
                          transform: Callable, batch_size: int, device: torch.device) -> torch.Tensor:
    chunks = []
    for start in range(0, len(split.image_ids), batch_size):
        ids = split.image_ids[start:start + batch_size]
        pixels = torch.stack([transform(split.load_image(i)) for i in ids]).to(device)
        chunks.append(model.image_features(pixels).float().cpu())
    return torch.cat(chunks)


def encode_split_features(model: CrossModalRetrievalModel, split: RetrievalSplit, transform: Callable,
                          batch_size: int, device: torch.device) -> SplitFeatures:
    """Run both backbones (in eval mode) over a whole split."""
    was_training = model.training
    model.eval()
    try:
        started = time.perf_counter()
        text = encode_text_features(model, [t.text for t in split.texts], batch_size, device)
        text_done = time.perf_counter()
        image = encode_image_features(model, split, transform, batch_size, device)
        image_done = time.perf_counter()
    finally:
        model.train(was_training)
    return SplitFeatures(text=text, image=image, text_seconds=text_done - started,
                         image_seconds=image_done - text_done)


@torch.no_grad()
def project_features(model: CrossModalRetrievalModel, features: SplitFeatures, batch_size: int,
                     device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the similarity-ready embeddings ``(texts, images)`` of encoded features."""
    def project(head: Callable, rows: torch.Tensor) -> torch.Tensor:
        out = [head(rows[s:s + batch_size].to(device)).float() for s in range(0, len(rows), batch_size)]
        return model.similarity.prepare(torch.cat(out)).cpu()

    was_training = model.training
    model.eval()
    try:
        return project(model.project_text, features.text), project(model.project_image, features.image)
    finally:
        model.train(was_training)


def _to(inputs: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {key: value.to(device, non_blocking=True) for key, value in inputs.items()}
