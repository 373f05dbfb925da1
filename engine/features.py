"""Encoding a split with the model: backbone features (cacheable) and projected embeddings.

When both backbones are frozen and no augmentation is on, backbone features never change,
so they are computed once and training runs the heads alone on cached tensors.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from engine.config import hashed_fields
from engine.data.records import RetrievalSplit
from engine.models.model import CrossModalRetrievalModel

log = logging.getLogger(__name__)


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


def feature_cache_dir() -> Path:
    """Return ``$XMR_CACHE/features`` (default ``~/.cache/xmr/features``)."""
    return Path(os.environ.get("XMR_CACHE", Path.home() / ".cache" / "xmr")).expanduser() / "features"


def feature_cache_path(model: CrossModalRetrievalModel, split: RetrievalSplit) -> Path:
    """Return the cache file of the frozen-backbone features of ``split`` (it may not exist yet)."""
    return feature_cache_dir() / f"{split.name}-{feature_cache_key(model, split)}.pt"


def feature_cache_key(model: CrossModalRetrievalModel, split: RetrievalSplit) -> str:
    """Hash everything that determines frozen backbone features: both encoder configs and the data."""
    text, image = model.config.text, model.config.image
    digest = hashlib.sha256()
    # Labels such as stand_in_for are left out, so offline twins of different combos share features.
    identity = {"text": hashed_fields(text), "image": hashed_fields(image),
                "mean": model.image_encoder.backbone.mean, "std": model.image_encoder.backbone.std}
    if image.weights and Path(image.weights).is_file():
        identity["weights_mtime"] = Path(image.weights).stat().st_mtime_ns
    if has_random_weights(model):  # randomly initialised weights depend on the run's seed
        identity["seed"] = model.config.train.seed
    digest.update(json.dumps(identity, sort_keys=True).encode())
    digest.update(json.dumps([(t.text_id, t.text) for t in split.texts], ensure_ascii=False).encode())
    digest.update(json.dumps(split.image_ids).encode())
    source = getattr(split.images, "path", None)
    if source is not None and Path(source).is_file():
        stat = Path(source).stat()
        digest.update(f"{Path(source).resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:24]


def has_random_weights(model: CrossModalRetrievalModel) -> bool:
    """Return True when a backbone's weights come from the seed rather than a checkpoint."""
    text, image = model.config.text, model.config.image
    text_random = text.backbone == "tiny-bert-zh" or (not text.pretrained and text.backbone != "use-m3")
    image_random = not image.pretrained and not image.weights
    return text_random or image_random


def cached_split_features(model: CrossModalRetrievalModel, split: RetrievalSplit, transform: Callable,
                          batch_size: int, device: torch.device) -> tuple[SplitFeatures, bool]:
    """Return a split's frozen-backbone features from the disk cache, computing them on a miss.

    Only call this for frozen, unaugmented backbones: their features depend on nothing but the
    encoder configs and the data, which the key hashes. Returns ``(features, hit)``.
    """
    path = feature_cache_path(model, split)
    if path.is_file():
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
            log.info("backbone features of split %s loaded from %s", split.name, path)
            return SplitFeatures(text=stored["text"], image=stored["image"]), True
        except (OSError, RuntimeError, KeyError) as error:
            log.warning("ignoring unreadable feature cache %s (%s); recomputing", path, error)
    features = encode_split_features(model, split, transform, batch_size, device)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".tmp{os.getpid()}")
        torch.save({"text": features.text, "image": features.image}, partial)
        partial.replace(path)  # atomic: a concurrent reader never sees half a file
    except OSError as error:
        log.warning("could not write the feature cache %s (%s); features stay in memory only", path, error)
    return features, False


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
