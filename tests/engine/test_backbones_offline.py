"""Offline backbones load; hub backbones without weights fail fast with instructions."""

import time

import pytest

from engine.config import ImageEncoderConfig, TextEncoderConfig
from engine.models.image import ImageFeatureExtractor
from engine.models.text import TextFeatureExtractor, bert_zh_tokenizer
from engine.models.weights import WeightsNotFoundError

UNK_ID = 100  # [UNK] in the bert-base-chinese vocab


def test_chinese_text_tokenizes_to_real_ids():
    tokenizer = bert_zh_tokenizer(max_length=16)

    ids = tokenizer(["咧嘴笑的脸"])["input_ids"][0]

    assert len(tokenizer) == 21128
    assert ids[0] == tokenizer.cls_token_id
    assert ids[-1] == tokenizer.sep_token_id
    assert len(ids) == 7
    assert UNK_ID not in ids


def test_missing_text_weights_fail_fast_with_instructions(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    started = time.monotonic()

    with pytest.raises(WeightsNotFoundError, match="bert-base-chinese") as error:
        TextFeatureExtractor(TextEncoderConfig(backbone="bert-base-chinese"))

    assert time.monotonic() - started < 30
    assert "pretrained=false" in str(error.value)


def test_missing_torchvision_weights_fail_fast(monkeypatch, tmp_path):
    monkeypatch.setenv("XMR_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    with pytest.raises(WeightsNotFoundError, match="resnet50"):
        ImageFeatureExtractor(ImageEncoderConfig(backbone="resnet50"))


def test_efficientnet_lite0_loads_imagenet_weights_from_the_wheel():
    extractor = ImageFeatureExtractor(ImageEncoderConfig(backbone="efficientnet_lite0"))

    stem = extractor.backbone.model.conv_stem.weight

    assert extractor.output_dim == 1280
    assert stem.std() > 0.05  # random init of this layer has a far smaller spread
    assert extractor.frozen
