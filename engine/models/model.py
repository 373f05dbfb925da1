"""``CrossModalRetrievalModel``: the dual encoder every ablation varies one part of."""

from __future__ import annotations

import torch
from torch import nn

from engine.config import ExperimentConfig
from engine.models.fusion import FUSIONS
from engine.models.heads import build_heads
from engine.models.image import ImageFeatureExtractor
from engine.models.similarity import SIMILARITIES, Temperature
from engine.models.text import TextFeatureExtractor


class CrossModalRetrievalModel(nn.Module):
    """Text and image extractors, projection heads, a similarity, a temperature and early fusion.

    The ``*_features`` methods run the backbones; ``project_*`` runs only the heads. Keeping
    them apart lets training on cached features of frozen backbones call the heads alone.
    """

    def __init__(self, config: ExperimentConfig) -> None:
        super().__init__()
        self.config = config
        self.text_encoder = TextFeatureExtractor(config.text)
        self.image_encoder = ImageFeatureExtractor(config.image)
        self.text_head, self.image_head = build_heads(
            config.head, self.text_encoder.output_dim, self.image_encoder.output_dim)
        # None for late fusion; an early-fusion model keeps its late heads for candidate search.
        self.fusion = FUSIONS.get(config.fusion.kind)(
            config.fusion, self.text_encoder.output_dim, self.image_encoder.output_dim)
        self.similarity = SIMILARITIES.get(config.similarity.kind)()
        self.temperature = Temperature(config.similarity)

    def text_features(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.text_encoder(inputs)

    def image_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.image_encoder(images)

    def project_text(self, features: torch.Tensor) -> torch.Tensor:
        return self.text_head(features)

    def project_image(self, features: torch.Tensor) -> torch.Tensor:
        return self.image_head(features)

    def forward(self, text_inputs: dict[str, torch.Tensor], images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(text_embeddings, image_embeddings)`` for a batch of pairs."""
        return (self.project_text(self.text_features(text_inputs)),
                self.project_image(self.image_features(images)))

    def logits(self, text: torch.Tensor, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return scaled logits ``(text_to_image [T, I], image_to_text [I, T])``."""
        scores = self.similarity(text, image).float()
        text_to_image, image_to_text = self.temperature.scales()
        return scores * text_to_image, scores.T * image_to_text

    @property
    def backbones_frozen(self) -> bool:
        return self.text_encoder.frozen and self.image_encoder.frozen
