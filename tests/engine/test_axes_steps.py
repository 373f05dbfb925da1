"""Every value of every ablation axis builds and takes a training step on tiny models.

Registry-backed axes are parametrised over their registries, so a newly registered variant is
tested without editing this file. Each case also checks that the value reaches the one-line
summary and the stored config dict.
"""

from __future__ import annotations

import math

import pytest
import torch

from engine import components  # noqa: F401  (fills the registries)
from engine.config import summary_line
from engine.registry import REGISTRIES
from tests.engine.axes_support import build_trainer, first_batch, axes_config, trainable_snapshot

# Settings a value needs besides itself (e.g. use-m3 is frozen; a ViT needs its own input size).
NEEDS = {
    ("text.backbone", "use-m3"): {"text.unfreeze_layers": 0},
    ("image.backbone", "test_vit"): {"image.image_size": 160},
    ("text.unfreeze_layers", 2): {"train.cache_features": "off"},
}
# Values whose effect shows in the summary under another spelling.
SUMMARY_LABEL = {("similarity.learnable", "fixed"): "τ=", ("train.use_amp", True): "amp:auto",
                 ("train.grad_checkpoint", True): "grad_ckpt", ("optim.grad_accum", 2): "accum=2"}


def registry_cases() -> list[tuple[str, object]]:
    keys = {"text.backbone": "text_backbone", "text.pooling": "pooling", "image.backbone": "image_backbone",
            "head.kind": "projector", "fusion.kind": "fusion", "similarity.kind": "similarity",
            "loss.negatives": "negatives", "optim.optimizer": "optimizer", "optim.scheduler": "scheduler",
            "augment.image": "image_augment", "augment.text": "text_augment"}
    return [(key, name) for key, kind in keys.items() for name in REGISTRIES[kind].names()]


OTHER_CASES = [
    ("image.backbone", "test_resnet"), ("image.backbone", "test_convnext"), ("image.backbone", "test_vit"),
    ("image.backbone", "test_efficientnet"),
    ("text.unfreeze_layers", 0), ("text.unfreeze_layers", 2), ("text.unfreeze_layers", "all"),
    ("image.readout", "pre_fc"), ("image.readout", "post_fc"),
    ("image.unfreeze", "none"), ("image.unfreeze", "top_block"), ("image.unfreeze", "all"),
    ("head.shared", True), ("head.shared", False),
    ("similarity.learnable", "fixed"), ("similarity.learnable", "shared"), ("similarity.learnable", "per_direction"),
    ("loss.directions", "both"), ("loss.directions", "text_to_image"), ("loss.directions", "image_to_text"),
    ("optim.grad_accum", 2), ("train.use_amp", True), ("train.grad_checkpoint", True),
]



def case_id(case: tuple[str, object]) -> str:
    return f"{case[0]}={case[1]}"


@pytest.mark.parametrize("case", registry_cases() + OTHER_CASES, ids=case_id)
def test_axis_value_trains_one_step(toy_dataset, case):
    key, value = case
    settings = {key: value, **NEEDS.get(case, {})}
    if key == "train.grad_checkpoint":
        settings.update({"text.unfreeze_layers": "all", "image.unfreeze": "all"})
    config = axes_config(toy_dataset, settings)
    trainer = build_trainer(config)
    before = trainable_snapshot(trainer.model)

    loss = trainer.train_step(first_batch(trainer))

    assert math.isfinite(loss)
    after = dict(trainer.model.named_parameters())
    assert any(not torch.equal(before[name], after[name]) for name in before), "no parameter changed"
    if (key, value) in SUMMARY_LABEL or not isinstance(value, bool):
        assert SUMMARY_LABEL.get((key, value), str(value)) in summary_line(config)
    section, field = key.split(".")
    assert config.to_dict()[section][field] == value
