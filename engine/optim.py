"""``build_optimizer``, ``build_llrd_optimizer`` and the ``warmup_cosine`` schedule.

Parameter groups follow one rule: heads, pooling and the temperature train at ``optim.lr``;
unfrozen backbone parameters at ``optim.backbone_lr``; weight decay never applies to norms,
biases (1-d tensors) or the temperature, whose value decay would drag towards 1/τ = 1.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import torch
from torch import nn

from engine.config import OptimConfig
from engine.registry import Registry

OPTIMIZERS: Registry[Callable[[nn.Module, OptimConfig], torch.optim.Optimizer]] = Registry("optimizer")
SCHEDULERS: Registry[Callable[[torch.optim.Optimizer, OptimConfig, int], torch.optim.lr_scheduler.LRScheduler]] = \
    Registry("scheduler")


def _decay_split(named: Iterable[tuple[str, nn.Parameter]]) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    decay, no_decay = [], []
    for name, parameter in named:
        if not parameter.requires_grad:
            continue
        if parameter.ndim <= 1 or "temperature" in name:
            no_decay.append(parameter)
        else:
            decay.append(parameter)
    return decay, no_decay


def _groups(named: Iterable[tuple[str, nn.Parameter]], lr: float, weight_decay: float, label: str) -> list[dict]:
    decay, no_decay = _decay_split(named)
    groups = []
    if decay:
        groups.append({"params": decay, "lr": lr, "weight_decay": weight_decay, "name": f"{label}/decay"})
    if no_decay:
        groups.append({"params": no_decay, "lr": lr, "weight_decay": 0.0, "name": f"{label}/no_decay"})
    return groups


def _is_backbone(name: str) -> bool:
    return name.startswith(("text_encoder.backbone.", "image_encoder.backbone."))


@OPTIMIZERS.register("adamw", help="build_optimizer: AdamW, one LR for heads, one for backbones")
def build_optimizer(model: nn.Module, config: OptimConfig) -> torch.optim.Optimizer:
    named = list(model.named_parameters())
    groups = _groups([(n, p) for n, p in named if not _is_backbone(n)], config.lr, config.weight_decay, "heads")
    groups += _groups([(n, p) for n, p in named if _is_backbone(n)], config.backbone_lr,
                      config.weight_decay, "backbone")
    return torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)


@OPTIMIZERS.register("adamw_llrd", help="build_llrd_optimizer: AdamW with layer-wise LR decay down each backbone")
def build_llrd_optimizer(model: nn.Module, config: OptimConfig) -> torch.optim.Optimizer:
    """AdamW where backbone layer ``d`` below the top trains at ``backbone_lr × llrd_factor**d``.

    Depth counts transformer layers (text) and stages (image) from the top, which is depth 0.
    Backbone parameters registered before the first layer (embeddings, stems, patch and position
    embeddings) sit one step below the bottom layer. Those registered after the last layer
    (final norms, classifier) train with the top layer. Heads, pooling, fusion and the
    temperature keep ``optim.lr``.
    """
    named = list(model.named_parameters())
    groups = _groups([(n, p) for n, p in named if not _is_backbone(n)], config.lr, config.weight_decay, "heads")
    encoders = {"text_encoder": model.text_encoder.backbone.layers(),
                "image_encoder": model.image_encoder.backbone.stages()}
    for prefix, layers in encoders.items():
        backbone = getattr(model, prefix).backbone
        depths = llrd_depths(backbone, layers)
        by_depth: dict[int, list[tuple[str, nn.Parameter]]] = {}
        for name, parameter in backbone.named_parameters():
            by_depth.setdefault(depths[name], []).append((f"{prefix}.backbone.{name}", parameter))
        for depth, members in sorted(by_depth.items()):
            lr = config.backbone_lr * config.llrd_factor ** depth
            groups += _groups(members, lr, config.weight_decay, f"{prefix}/depth{depth}")
    return torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)


def llrd_depths(backbone: nn.Module, layers: list[nn.Module]) -> dict[str, int]:
    """Return each backbone parameter's depth below the top layer (see ``build_llrd_optimizer``)."""
    layer_of = {id(p): index for index, layer in enumerate(layers) for p in layer.parameters()}
    bottom = len(layers)
    depths: dict[str, int] = {}
    seen_layer = False
    for name, parameter in backbone.named_parameters():
        if id(parameter) in layer_of:
            seen_layer = True
            depths[name] = len(layers) - 1 - layer_of[id(parameter)]
        else:
            depths[name] = 0 if seen_layer else bottom
    return depths


def warmup_cosine_factor(step: int, total_steps: int, warmup_ratio: float, min_lr_ratio: float) -> float:
    """Return the LR multiplier at ``step``: linear warm-up, then cosine down to ``min_lr_ratio``."""
    warmup = int(round(total_steps * warmup_ratio))
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total_steps - warmup)
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return min_lr_ratio + (1.0 - min_lr_ratio) * cosine


@SCHEDULERS.register("warmup_cosine", help="linear warm-up over optim.warmup_ratio, cosine decay to optim.min_lr_ratio")
def warmup_cosine(optimizer: torch.optim.Optimizer, config: OptimConfig, total_steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine_factor(step, total_steps, config.warmup_ratio, config.min_lr_ratio))


@SCHEDULERS.register("constant", help="the peak LR throughout")
def constant(optimizer: torch.optim.Optimizer, config: OptimConfig, total_steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
