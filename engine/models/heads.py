"""Projection heads that map backbone features into the joint embedding space.

Every head takes ``(in_dim, out_dim, hidden_dim, dropout)`` and is chosen by ``head.kind``.
``build_heads`` also handles ``head.shared``: one head for both modalities, with a linear
input adapter per modality when the backbone widths differ.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from engine.config import HeadConfig
from engine.registry import Registry

PROJECTORS: Registry[Callable[..., nn.Module]] = Registry("projector")


@PROJECTORS.register("optimized_mlp", help="OptimizedMLPProjector: LayerNorm → Linear → GELU → Dropout → Linear")
class OptimizedMLPProjector(nn.Module):
    # The input LayerNorm matters with frozen backbones: their feature scales differ by orders
    # of magnitude between models (unit-norm sentence vectors vs. unnormalised CNN features).
    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, hidden_dim), nn.GELU(),
                                 nn.Dropout(dropout), nn.Linear(hidden_dim, out_dim))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)


@PROJECTORS.register("two_layer_mlp", help="plain two-layer MLP: Linear → ReLU → Dropout → Linear")
class TwoLayerMLP(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden_dim, out_dim))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)


@PROJECTORS.register("residual", help="OptimizedMLPProjector output + a linear skip from the input")
class ResidualProjector(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int, dropout: float) -> None:
        super().__init__()
        self.mlp = OptimizedMLPProjector(in_dim, out_dim, hidden_dim, dropout)
        self.skip = nn.Linear(in_dim, out_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.mlp(features) + self.skip(features)


@PROJECTORS.register("gated", help="learned sigmoid gate mixing the MLP path and a linear path")
class GatedProjector(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int, dropout: float) -> None:
        super().__init__()
        self.mlp = OptimizedMLPProjector(in_dim, out_dim, hidden_dim, dropout)
        self.linear = nn.Linear(in_dim, out_dim)
        self.gate = nn.Linear(in_dim, out_dim)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.gate(features))
        return gate * self.mlp(features) + (1 - gate) * self.linear(features)


class AdaptedHead(nn.Module):
    """A modality-specific input adapter in front of a head shared by both modalities."""

    def __init__(self, adapter: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.adapter = adapter
        self.head = head

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.adapter(features))


def build_heads(config: HeadConfig, text_dim: int, image_dim: int) -> tuple[nn.Module, nn.Module]:
    """Return ``(text_head, image_head)``; with ``shared`` both wrap the same module."""
    projector = PROJECTORS.get(config.kind)
    if not config.shared:
        return (projector(text_dim, config.embed_dim, config.hidden_dim, config.dropout),
                projector(image_dim, config.embed_dim, config.hidden_dim, config.dropout))
    width = max(text_dim, image_dim)
    shared = projector(width, config.embed_dim, config.hidden_dim, config.dropout)
    text_adapter = nn.Identity() if text_dim == width else nn.Linear(text_dim, width)
    image_adapter = nn.Identity() if image_dim == width else nn.Linear(image_dim, width)
    return AdaptedHead(text_adapter, shared), AdaptedHead(image_adapter, shared)
