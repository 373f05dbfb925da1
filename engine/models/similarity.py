"""``SimilarityCalculator`` (cosine or dot) and the softmax temperature, fixed or learned.

The temperature is stored as a log logit scale (log 1/τ), as CLIP does, so it stays positive
and its gradient is well scaled. A learned scale is clamped at ``max_logit_scale``: an
unbounded scale lets the loss be lowered by sharpening alone, and logits of 1/τ > 100
overflow fp16 softmax inputs under AMP.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from engine.config import SimilarityConfig
from engine.registry import Registry

SIMILARITIES: Registry[Callable[[], nn.Module]] = Registry("similarity")


class SimilarityCalculator(nn.Module):
    """Scores every text embedding against every image embedding: ``[T, D] x [I, D] → [T, I]``."""

    normalize: bool = False

    def prepare(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Return the embeddings as they enter the inner product (unit length for cosine)."""
        return F.normalize(embeddings, dim=-1) if self.normalize else embeddings

    def forward(self, text: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.prepare(text) @ self.prepare(image).T


@SIMILARITIES.register("cosine", help="inner product of L2-normalised embeddings")
class CosineSimilarity(SimilarityCalculator):
    normalize = True


@SIMILARITIES.register("dot", help="raw inner product (embedding norms carry signal)")
class DotSimilarity(SimilarityCalculator):
    normalize = False


class Temperature(nn.Module):
    """Logit scales (1/τ) for the text→image and image→text directions."""

    def __init__(self, config: SimilarityConfig) -> None:
        super().__init__()
        self.mode = config.learnable
        self.max_log_scale = math.log(config.max_logit_scale)
        initial = math.log(1.0 / config.temperature)
        count = {"fixed": 0, "shared": 1, "per_direction": 2}[self.mode]
        if count:
            self.log_scale = nn.Parameter(torch.full((count,), initial))
        else:
            self.register_buffer("log_scale", torch.full((1,), initial))

    def scales(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the clamped logit scales ``(text_to_image, image_to_text)``."""
        scale = self.log_scale.clamp(max=self.max_log_scale).exp()
        return scale[0], scale[-1]

    @torch.no_grad()
    def clamp_(self) -> None:
        """Pull a learned log scale back under the bound after an optimizer step (as CLIP does)."""
        self.log_scale.clamp_(max=self.max_log_scale)

    def values(self) -> dict[str, float]:
        """Return the current temperatures τ for logging."""
        text_to_image, image_to_text = self.scales()
        if self.mode == "per_direction":
            return {"temperature_t2i": 1 / text_to_image.item(), "temperature_i2t": 1 / image_to_text.item()}
        return {"temperature": 1 / text_to_image.item()}
