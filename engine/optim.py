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
