"""Imports every module that registers variants, so all registries are complete."""

from engine import augment, index, losses, optim, rerank  # noqa: F401
from engine.models import heads, image, similarity, text  # noqa: F401
