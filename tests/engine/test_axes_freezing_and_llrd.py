"""Unfreezing leaves exactly the documented parameters trainable; optimizers give the documented LRs."""

from __future__ import annotations

import re

import pytest
import torch

from engine.config import ConfigError, TextEncoderConfig
from engine.models.model import CrossModalRetrievalModel
from engine.models.text import TextFeatureExtractor
from engine.optim import build_llrd_optimizer, build_optimizer
from tests.engine.axes_support import build_trainer, first_batch, axes_config

TEXT_PREFIX = "text_encoder.backbone.model."
IMAGE_PREFIX = "image_encoder.backbone.model."



def trainable(model: torch.nn.Module, prefix: str) -> set[str]:
    return {name[len(prefix):] for name, p in model.named_parameters() if p.requires_grad and name.startswith(prefix)}


def every(model: torch.nn.Module, prefix: str) -> set[str]:
    return {name[len(prefix):] for name, _ in model.named_parameters() if name.startswith(prefix)}


# --- text ------------------------------------------------------------------------------------

@pytest.mark.parametrize("last_n, layers", [(0, []), (2, [2, 3]), (4, [0, 1, 2, 3])])
def test_text_unfreeze_trains_only_top_layers(toy_dataset, last_n, layers):
    model = CrossModalRetrievalModel(axes_config(toy_dataset, {"text.unfreeze_layers": last_n}))
    expected = {name for name in every(model, TEXT_PREFIX)
                if any(name.startswith(f"encoder.layer.{i}.") for i in layers)}
    assert trainable(model, TEXT_PREFIX) == expected


def test_text_unfreeze_all_trains_embeddings_too(toy_dataset):
    model = CrossModalRetrievalModel(axes_config(toy_dataset, {"text.unfreeze_layers": "all"}))
    names = trainable(model, TEXT_PREFIX)
    assert names == every(model, TEXT_PREFIX)
    assert "embeddings.word_embeddings.weight" in names


def test_text_unfreeze_keeps_embeddings_frozen_below_all(toy_dataset):
    model = CrossModalRetrievalModel(axes_config(toy_dataset, {"text.unfreeze_layers": 4}))
    assert not any(name.startswith("embeddings.") for name in trainable(model, TEXT_PREFIX))


def test_text_backbone_builds_no_pooler(toy_dataset):
    model = CrossModalRetrievalModel(axes_config(toy_dataset, {"text.unfreeze_layers": "all"}))
    assert not any("pooler" in name for name in every(model, TEXT_PREFIX))


def test_attentive_pooling_trains_with_frozen_backbone(toy_dataset):
    model = CrossModalRetrievalModel(axes_config(toy_dataset, {"text.pooling": "attentive"}))
    assert trainable(model, "text_encoder.pooling.") == {"score.weight", "score.bias"}


def test_attentive_pooling_learns_over_frozen_backbone(toy_dataset):
    trainer = build_trainer(axes_config(toy_dataset, {"text.pooling": "attentive"}))
    before = trainer.model.text_encoder.pooling.score.weight.detach().clone()

    trainer.train_step(first_batch(trainer))

    assert trainer.cached_modalities() == {"image"}
    assert not torch.equal(trainer.model.text_encoder.pooling.score.weight, before)


def test_text_unfreeze_beyond_depth_names_key(toy_dataset):
    with pytest.raises(ConfigError, match=r"text\.unfreeze_layers: 8 is more than the 4 layers"):
        TextFeatureExtractor(TextEncoderConfig(backbone="tiny-bert-zh", unfreeze_layers=8))


def test_use_m3_rejects_unfreezing():
    with pytest.raises(ConfigError, match=r"text\.unfreeze_layers: 2 is invalid for use-m3"):
        TextFeatureExtractor(TextEncoderConfig(backbone="use-m3", unfreeze_layers=2))


# --- image -----------------------------------------------------------------------------------

@pytest.mark.parametrize("readout, extra", [("pre_fc", set()), ("post_fc", {"fc.weight", "fc.bias"})])
def test_image_top_block_trains_last_stage_only(toy_dataset, readout, extra):
    model = CrossModalRetrievalModel(axes_config(toy_dataset, {"image.unfreeze": "top_block", "image.readout": readout}))
    expected = {name for name in every(model, IMAGE_PREFIX) if name.startswith("layer4.")} | extra
    assert trainable(model, IMAGE_PREFIX) == expected


@pytest.mark.parametrize("unfreeze, count", [("none", 0), ("all", None)])
def test_image_unfreeze_none_and_all(toy_dataset, unfreeze, count):
    model = CrossModalRetrievalModel(axes_config(toy_dataset, {"image.unfreeze": unfreeze}))
    expected = set() if count == 0 else every(model, IMAGE_PREFIX)
    assert trainable(model, IMAGE_PREFIX) == expected


def test_frozen_blocks_keep_batchnorm_statistics(toy_dataset):
    trainer = build_trainer(axes_config(toy_dataset, {"image.unfreeze": "top_block"}))
    backbone = trainer.model.image_encoder.backbone.model
    frozen_before = backbone.layer1[0].bn1.running_mean.clone()
    top_before = backbone.layer4[0].bn1.running_mean.clone()

    trainer.train_step(first_batch(trainer))

    assert torch.equal(backbone.layer1[0].bn1.running_mean, frozen_before)
    assert not torch.equal(backbone.layer4[0].bn1.running_mean, top_before)


def test_unknown_timm_backbone_names_key(toy_dataset):
    with pytest.raises(ConfigError, match=r"image\.backbone: unknown model 'no_such_net'"):
        CrossModalRetrievalModel(axes_config(toy_dataset, {"image.backbone": "no_such_net"}))


# --- optimizers ------------------------------------------------------------------------------

def lr_and_decay(optimizer: torch.optim.Optimizer, model: torch.nn.Module) -> dict[str, tuple[float, float]]:
    group_of = {id(p): group for group in optimizer.param_groups for p in group["params"]}
    return {name: (group_of[id(p)]["lr"], group_of[id(p)]["weight_decay"])
            for name, p in model.named_parameters() if p.requires_grad}


def expected_text_depth(name: str) -> int:
    """tiny-bert-zh: four layers, top (3) at depth 0; the embeddings one below the bottom layer."""
    match = re.match(r"encoder\.layer\.(\d+)\.", name)
    return 3 - int(match.group(1)) if match else 4


def expected_image_depth(name: str) -> int:
    """test_efficientnet: five blocks; conv_head/bn2/classifier train with the top block; stem below."""
    match = re.match(r"blocks\.(\d+)\.", name)
    if match:
        return 4 - int(match.group(1))
    return 5 if name.startswith(("conv_stem.", "bn1.")) else 0


def test_llrd_gives_each_layer_documented_lr(toy_dataset):
    config = axes_config(toy_dataset, {
        "text.unfreeze_layers": "all", "image.backbone": "test_efficientnet", "image.unfreeze": "all",
        "image.readout": "post_fc", "optim.optimizer": "adamw_llrd", "optim.llrd_factor": 0.5,
        "optim.lr": 0.01, "optim.backbone_lr": 0.001, "similarity.learnable": "shared"})
    model = CrossModalRetrievalModel(config)
    groups = lr_and_decay(build_llrd_optimizer(model, config.optim), model)

    for name, (lr, _) in groups.items():
        if name.startswith(TEXT_PREFIX):
            expected = 0.001 * 0.5 ** expected_text_depth(name[len(TEXT_PREFIX):])
        elif name.startswith(IMAGE_PREFIX):
            expected = 0.001 * 0.5 ** expected_image_depth(name[len(IMAGE_PREFIX):])
        else:
            expected = 0.01
        assert lr == pytest.approx(expected), name


def test_optimizers_skip_decay_on_norms_biases_temperature(toy_dataset):
    config = axes_config(toy_dataset, {"text.unfreeze_layers": "all", "similarity.learnable": "per_direction",
                                    "optim.weight_decay": 0.05})
    model = CrossModalRetrievalModel(config)
    for build in (build_optimizer, build_llrd_optimizer):
        groups = lr_and_decay(build(model, config.optim), model)
        assert groups["temperature.log_scale"][1] == 0.0
        assert groups[TEXT_PREFIX + "encoder.layer.0.attention.output.LayerNorm.weight"][1] == 0.0
        assert groups[TEXT_PREFIX + "encoder.layer.0.attention.self.query.bias"][1] == 0.0
        assert groups[TEXT_PREFIX + "encoder.layer.0.attention.self.query.weight"][1] == 0.05
        assert groups["text_head.net.1.weight"][1] == 0.05


def test_build_optimizer_uses_two_lrs(toy_dataset):
    config = axes_config(toy_dataset, {"text.unfreeze_layers": 2, "optim.lr": 0.01, "optim.backbone_lr": 0.001})
    model = CrossModalRetrievalModel(config)
    groups = lr_and_decay(build_optimizer(model, config.optim), model)
    assert {lr for name, (lr, _) in groups.items() if name.startswith(TEXT_PREFIX)} == {0.001}
    assert {lr for name, (lr, _) in groups.items() if not name.startswith(TEXT_PREFIX)} == {0.01}
