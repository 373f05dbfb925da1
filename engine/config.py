"""Typed experiment configuration: dataclasses, validation, composition, hashing, summary.

A run is fully described by one ``ExperimentConfig``. Configs compose as
dataclass defaults ← a YAML file (which may ``extends:`` another) ← ``--set key=value``
overrides. Unknown keys and bad values raise ``ConfigError`` naming the key path and the
allowed values before any work starts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from engine.messages import N_, _


class ConfigError(ValueError):
    """Raised for an invalid config; the message names the key path and what is allowed."""


def _doc(text: str, registry: str | None = None, **extra: Any) -> dict[str, Any]:
    meta = {"doc": text, **extra}
    if registry:
        meta["registry"] = registry
    return meta


@dataclass
class DataConfig:
    dataset: str = field(default="emoji-zh", metadata=_doc(
        "dataset name (built-in `emoji-zh` or one registered with `xmr data register`) or a folder "
        "in the Chinese-CLIP layout"))
    root: str | None = field(default=None, metadata=_doc(
        "folder that holds the dataset files; default: resolved from the dataset name"))
    train_split: str = field(default="train", metadata=_doc("split used for training"))
    eval_split: str = field(default="test", metadata=_doc("split encoded and scored after training"))
    num_workers: int = field(default=0, metadata=_doc(
        "DataLoader worker processes for training batches, also used to decode every image "
        "when a split is first checked (0 = the main process)"))
    format: Literal["auto", "cnclip", "plain"] = field(default="auto", metadata=_doc(
        "dataset layout: `cnclip` ({split}_texts.jsonl + {split}_imgs.tsv or lmdb/), `plain` "
        "(captions.jsonl/csv beside image files), or `auto` to detect it"))
    resize_cache: int = field(default=0, metadata=_doc(
        "side in pixels of an on-disk cache of resized images, built on first use, for datasets "
        "whose images are slow to decode (0 = off; keep it at least image.image_size)"))
    skip_bad: bool = field(default=False, metadata=_doc(
        "leave out bad rows (missing images, undecodable images, empty captions, …) and report "
        "how many; false rejects a dataset with any (`xmr data check` lists them)"))


@dataclass
class TextEncoderConfig:
    backbone: str = field(default="use-m3", metadata=_doc(
        "text backbone: a registered name (`tiny-bert-zh`, `use-m3`) or any Hugging Face id or "
        "local path loaded with AutoModel (`bert-base-chinese`, `hfl/chinese-roberta-wwm-ext`, "
        "`hfl/chinese-macbert-base`)"))
    pooling: str = field(default="mean", metadata=_doc(
        "token pooling of transformer backbones", registry="pooling"))
    unfreeze_layers: Union[int, Literal["all"]] = field(default=0, metadata=_doc(
        "top transformer layers trained by `unfreeze_text_top_layers`: 0 = backbone frozen, "
        "N = the top N layers (embeddings stay frozen), `all` = every layer and the embeddings; "
        "no pooler is built, so none trains"))
    max_length: int = field(default=32, metadata=_doc("maximum tokens per caption"))
    pretrained: bool = field(default=True, metadata=_doc(
        "load pretrained weights; false builds the architecture with random weights"))
    stand_in_for: str | None = field(default=None, metadata=_doc(
        "offline twins: the backbone this one replaces, shown in the summary line; not hashed",
        hashed=False))


@dataclass
class ImageEncoderConfig:
    backbone: str = field(default="efficientnet_lite0", metadata=_doc(
        "image backbone: a registered name (`efficientnet_lite0`, `resnet50`, `resnet101`) or any "
        "timm model name (`convnext_tiny`, `vit_base_patch16_224`, `efficientnet_lite1`, "
        "`efficientnet_lite2`); the projector input width follows the backbone"))
    readout: Literal["pre_fc", "post_fc"] = field(default="pre_fc", metadata=_doc(
        "`pre_fc`: globally pooled features; `post_fc`: the classifier's logits"))
    unfreeze: Literal["none", "top_block", "all"] = field(default="none", metadata=_doc(
        "trained part of the backbone: `none`, `top_block` (`unfreeze_image_top_block()`: the last "
        "stage, plus the classifier with `post_fc`) or `all`; BatchNorm statistics of frozen "
        "blocks stay fixed"))
    pretrained: bool = field(default=True, metadata=_doc("load pretrained ImageNet weights"))
    weights: str | None = field(default=None, metadata=_doc(
        "local checkpoint file with the backbone's weights (overrides the default source)"))
    image_size: int = field(default=128, metadata=_doc("square input size in pixels"))
    stand_in_for: str | None = field(default=None, metadata=_doc(
        "offline twins: the backbone this one replaces, shown in the summary line; not hashed",
        hashed=False))


@dataclass
class HeadConfig:
    kind: str = field(default="optimized_mlp", metadata=_doc(
        "projection head architecture", registry="projector"))
    shared: bool = field(default=False, metadata=_doc(
        "one head for both modalities (with per-modality input adapters) instead of two"))
    embed_dim: int = field(default=256, metadata=_doc("width of the joint embedding space"))
    hidden_dim: int = field(default=1024, metadata=_doc("hidden width of MLP heads"))
    dropout: float = field(default=0.1, metadata=_doc("dropout inside the heads, 0 to 1"))


@dataclass
class FusionConfig:
    kind: str = field(default="late", metadata=_doc(
        "`late`: score separate embeddings; `early`: also train `FeatureFusion`, which scores "
        "concatenated text and image features, and re-rank with it", registry="fusion"))
    rerank_k: int = field(default=20, metadata=_doc(
        "early fusion: gallery candidates per query, taken from the late scores, that the fusion "
        "head re-scores; a value at least the gallery size scores every pair"))
    hidden_dim: int = field(default=256, metadata=_doc(
        "early fusion: hidden width of the pair-scoring head; a training batch of B pairs costs "
        "about B² × hidden_dim² multiply-adds in it"))


@dataclass
class SimilarityConfig:
    kind: str = field(default="cosine", metadata=_doc(
        "similarity of two embeddings", registry="similarity"))
    temperature: float = field(default=0.07, metadata=_doc(
        "softmax temperature τ (logits = similarity / τ); the starting value when learnable"))
    learnable: Literal["fixed", "shared", "per_direction"] = field(default="fixed", metadata=_doc(
        "`fixed` τ, one learnable τ, or one learnable τ per direction (text→image, image→text)"))
    max_logit_scale: float = field(default=100.0, metadata=_doc(
        "upper clamp of a learned 1/τ, so logits cannot blow up early in training"))


@dataclass
class LossConfig:
    directions: Literal["both", "text_to_image", "image_to_text"] = field(default="both", metadata=_doc(
        "InfoNCE directions that are optimised"))
    negatives: str = field(default="in_batch", metadata=_doc(
        "where negatives come from", registry="negatives"))
    hard_k: int = field(default=8, metadata=_doc(
        "`hard`: negatives kept per query, the ones with the highest current similarity"))
    queue_size: int = field(default=1024, metadata=_doc(
        "`queue`: embeddings of past batches kept per modality as extra negatives (no momentum "
        "encoder)"))


@dataclass
class OptimConfig:
    optimizer: str = field(default="adamw", metadata=_doc(
        "`adamw` (build_optimizer) or `adamw_llrd` (build_llrd_optimizer)", registry="optimizer"))
    lr: float = field(default=1e-3, metadata=_doc("peak learning rate of heads and temperature"))
    backbone_lr: float = field(default=2e-5, metadata=_doc(
        "peak learning rate of unfrozen backbone layers (the top layer with LLRD)"))
    weight_decay: float = field(default=0.05, metadata=_doc(
        "AdamW weight decay; never applied to norms, biases or the temperature"))
    llrd_factor: float = field(default=0.8, metadata=_doc(
        "`adamw_llrd`: each backbone layer below the top gets this times the LR of the one above"))
    scheduler: str = field(default="warmup_cosine", metadata=_doc(
        "learning-rate schedule", registry="scheduler"))
    warmup_ratio: float = field(default=0.05, metadata=_doc("fraction of steps with linear warm-up"))
    min_lr_ratio: float = field(default=0.0, metadata=_doc("final LR as a fraction of the peak"))
    grad_accum: int = field(default=1, metadata=_doc(
        "micro-batches accumulated per optimizer step; in-batch negatives come from each "
        "micro-batch, and the gradient is the average of the micro-batch gradients"))
    max_grad_norm: float = field(default=1.0, metadata=_doc("gradient clipping norm (0 = off)"))


@dataclass
class TrainConfig:
    steps: int = field(default=1000, metadata=_doc(
        "optimizer steps; keep it equal across runs that are compared"))
    batch_size: int = field(default=128, metadata=_doc("pairs per optimizer step"))
    seed: int = field(default=0, metadata=_doc("global seed for weights, sampling and augmentation"))
    use_amp: bool = field(default=False, metadata=_doc(
        "autocast the forward pass to `amp_dtype`; parameters and the loss stay fp32"))
    amp_dtype: Literal["auto", "bf16", "fp16"] = field(default="auto", metadata=_doc(
        "`use_amp` precision: `auto` = bf16 on CPU and fp16 on CUDA; `fp16` (CUDA only) adds a "
        "GradScaler"))
    grad_checkpoint: bool = field(default=False, metadata=_doc(
        "use_grad_checkpoint: recompute the activations of unfrozen backbones (Hugging Face and "
        "timm/torchvision) in the backward pass to save memory"))
    cache_features: Literal["auto", "off"] = field(default="auto", metadata=_doc(
        "`auto`: encode each frozen, unaugmented modality once and train on its cached "
        "features; `off`: run both backbones every step"))
    log_every: int = field(default=10, metadata=_doc("steps between logged loss/LR records"))
    checkpoint_every: int = field(default=0, metadata=_doc("steps between checkpoints (0 = only at the end)"))


@dataclass
class AugmentConfig:
    image: str = field(default="none", metadata=_doc("training-image augmentation", registry="image_augment"))
    text: str = field(default="none", metadata=_doc("training-caption augmentation", registry="text_augment"))


@dataclass
class EvalConfig:
    index: str = field(default="exact", metadata=_doc("retrieval index", registry="index"))
    batch_size: int = field(default=256, metadata=_doc("items per encoding batch at evaluation"))
    top_k: int = field(default=100, metadata=_doc(
        "candidates per query that a FAISS index returns and that `rerank` re-scores; a relevant "
        "item outside them counts as not retrieved"))
    rerank: str = field(default="none", metadata=_doc(
        "re-scorer applied to each query's top_k candidates (`none` keeps the index's order)",
        registry="rescorer"))
    ivf_nlist: int = field(default=0, metadata=_doc(
        "`faiss_ivfpq`: inverted lists (k-means cells); 0 = the power of two nearest √gallery"))
    ivf_nprobe: int = field(default=0, metadata=_doc(
        "`faiss_ivfpq`: lists visited per query; 0 = nlist / 32, at least 1"))
    pq_m: int = field(default=0, metadata=_doc(
        "`faiss_ivfpq`: sub-quantizers per vector, a divisor of the embedding width; "
        "0 = the largest divisor not above min(64, width / 16)"))
    pq_nbits: int = field(default=0, metadata=_doc(
        "`faiss_ivfpq`: bits per sub-quantizer code, 1 to 16; 0 = 8, fewer when the training "
        "sample is below 39 × 256 vectors"))
    index_train_size: int = field(default=0, metadata=_doc(
        "`faiss_ivfpq`: gallery vectors sampled to train the quantizers; 0 = min(gallery, "
        "max(64 × nlist, 39 × 2^nbits))"))
    chunk_mb: int = field(default=256, metadata=_doc(
        "memory budget in MiB for one block of exact query × gallery scores"))
    latency_queries: int = field(default=200, metadata=_doc(
        "queries searched one at a time to measure latency p50/p95 (0 = skip)"))


@dataclass
class ExperimentConfig:
    name: str = field(default="unnamed", metadata=_doc("label shown in reports (not hashed)"))
    data: DataConfig = field(default_factory=DataConfig)
    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    image: ImageEncoderConfig = field(default_factory=ImageEncoderConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    similarity: SimilarityConfig = field(default_factory=SimilarityConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def config_hash(self) -> str:
        """Return a stable 12-hex-digit hash of everything that affects the result.

        The name and fields marked ``hashed=False`` (labels such as ``stand_in_for``) are left
        out, so relabelling a config does not make it a different experiment.
        """
        payload = hashed_fields(self)
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def hashed_fields(node: Any) -> dict[str, Any]:
    """Return a config (or section) as plain data without its name and ``hashed=False`` labels."""
    payload = {}
    for spec in dataclasses.fields(node):
        if spec.name == "name" or not spec.metadata.get("hashed", True):
            continue
        value = getattr(node, spec.name)
        payload[spec.name] = hashed_fields(value) if dataclasses.is_dataclass(value) else value
    return payload


# --- building and validating -------------------------------------------------------------

def config_from_dict(data: dict[str, Any]) -> ExperimentConfig:
    """Build a validated config from nested plain data (as loaded from YAML)."""
    config = _build_dataclass(ExperimentConfig, data, "")
    validate(config)
    return config


def _build_dataclass(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(_("{key}: expected a mapping of keys, got {value!r}").format(key=path or "config",
                                                                                       value=data))
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in known:
            where = f"{path}.{key}" if path else str(key)
            raise ConfigError(_("unknown key {key!r}; allowed keys here: {allowed}").format(
                key=where, allowed=", ".join(known)))
    values = {}
    for name, spec in known.items():
        if name not in data:
            continue
        where = f"{path}.{name}" if path else name
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = _build_dataclass(hint, data[name], where)
        else:
            values[name] = _coerce(data[name], hint, where)
    return cls(**values)


def _coerce(value: Any, hint: Any, path: str) -> Any:
    """Return ``value`` converted to the type ``hint``, or raise ConfigError naming ``path``."""
    if not _matches(value, hint):
        if typing.get_origin(hint) is Literal:
            raise ConfigError(_("{key}: {value!r} is invalid; allowed: {allowed}").format(
                key=path, value=value, allowed=", ".join(map(str, typing.get_args(hint)))))
        raise ConfigError(_("{key}: {value!r} is invalid; expected {expected}").format(
            key=path, value=value, expected=_describe(hint)))
    if _is_union(hint):
        option = next(option for option in typing.get_args(hint) if _matches(value, option))
        return _coerce(value, option, path)
    return float(value) if hint is float else value


def _is_union(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    return origin is Union or origin is types.UnionType  # `str | None` is a UnionType, not a Union


def _matches(value: Any, hint: Any) -> bool:
    if _is_union(hint):
        return any(_matches(value, option) for option in typing.get_args(hint))
    if typing.get_origin(hint) is Literal:
        return value in typing.get_args(hint)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    raise TypeError(f"config fields of type {hint!r} are not supported")


def _describe(hint: Any) -> str:
    """Return what a value of type ``hint`` looks like, for error messages."""
    if _is_union(hint):
        return _(" or ").join(_describe(option) for option in typing.get_args(hint))
    if typing.get_origin(hint) is Literal:
        return _("one of: {values}").format(values=", ".join(map(str, typing.get_args(hint))))
    return _(_TYPE_NAMES[hint])


_TYPE_NAMES = {type(None): N_("null"), bool: N_("true or false"), int: N_("a whole number"), float: N_("a number"),
               str: N_("a string")}


def validate(config: ExperimentConfig) -> None:
    """Check registry names and numeric ranges; raise ConfigError naming the first bad key."""
    from engine import components  # noqa: F401  (registers every variant)
    from engine.registry import REGISTRIES

    for section in dataclasses.fields(config):
        value = getattr(config, section.name)
        if not dataclasses.is_dataclass(value):
            continue
        for spec in dataclasses.fields(value):
            kind = spec.metadata.get("registry")
            name = getattr(value, spec.name)
            if kind and name not in REGISTRIES[kind]:
                allowed = ", ".join(REGISTRIES[kind].names())
                raise ConfigError(_("{key}: unknown value {value!r}; allowed: {allowed}").format(
                    key=f"{section.name}.{spec.name}", value=name, allowed=allowed))
    _check_ranges(config)


def _check_ranges(config: ExperimentConfig) -> None:
    checks = [
        ("train.steps", config.train.steps >= 1, N_("at least 1")),
        ("train.batch_size", config.train.batch_size >= 2, N_("at least 2 (InfoNCE needs negatives)")),
        ("train.log_every", config.train.log_every >= 1, N_("at least 1")),
        ("train.checkpoint_every", config.train.checkpoint_every >= 0, N_("0 or more")),
        ("optim.grad_accum", config.optim.grad_accum >= 1, N_("at least 1")),
        ("optim.grad_accum", config.train.batch_size % config.optim.grad_accum == 0,
         N_("a divisor of train.batch_size")),
        ("optim.lr", config.optim.lr > 0, N_("greater than 0")),
        ("optim.warmup_ratio", 0 <= config.optim.warmup_ratio < 1, N_("in [0, 1)")),
        ("optim.min_lr_ratio", 0 <= config.optim.min_lr_ratio <= 1, N_("in [0, 1]")),
        ("optim.llrd_factor", 0 < config.optim.llrd_factor <= 1, N_("in (0, 1]")),
        ("similarity.temperature", config.similarity.temperature > 0, N_("greater than 0")),
        ("similarity.max_logit_scale", config.similarity.max_logit_scale > 1, N_("greater than 1")),
        ("head.dropout", 0 <= config.head.dropout < 1, N_("in [0, 1)")),
        ("head.embed_dim", config.head.embed_dim >= 1, N_("at least 1")),
        ("text.max_length", config.text.max_length >= 2, N_("at least 2")),
        ("image.image_size", config.image.image_size >= 32, N_("at least 32")),
        ("loss.hard_k", config.loss.hard_k >= 1, N_("at least 1")),
        ("loss.queue_size", config.loss.queue_size >= 1, N_("at least 1")),
        ("fusion.rerank_k", config.fusion.rerank_k >= 1, N_("at least 1")),
        ("fusion.hidden_dim", config.fusion.hidden_dim >= 1, N_("at least 1")),
        ("data.num_workers", config.data.num_workers >= 0, N_("0 or more")),
        ("data.resize_cache", config.data.resize_cache >= 0, N_("0 (off) or a side in pixels")),
        ("eval.top_k", config.eval.top_k >= 1, N_("at least 1")),
        ("eval.ivf_nlist", config.eval.ivf_nlist >= 0, N_("0 (auto) or more")),
        ("eval.ivf_nprobe", config.eval.ivf_nprobe >= 0, N_("0 (auto) or more")),
        ("eval.pq_m", config.eval.pq_m >= 0, N_("0 (auto) or more")),
        ("eval.pq_nbits", 0 <= config.eval.pq_nbits <= 16, N_("0 (auto) or 1 to 16")),
        ("eval.index_train_size", config.eval.index_train_size >= 0, N_("0 (auto) or more")),
        ("eval.chunk_mb", config.eval.chunk_mb >= 1, N_("at least 1")),
        ("eval.latency_queries", config.eval.latency_queries >= 0, N_("0 or more")),
    ]
    unfreeze = config.text.unfreeze_layers
    checks.append(("text.unfreeze_layers", unfreeze == "all" or unfreeze >= 0, N_("0 or more, or `all`")))
    for key, ok, expected in checks:
        if not ok:
            raise ConfigError(_("{key}: {value!r} is invalid; expected {expected}").format(
                key=key, value=_lookup(config, key), expected=_(expected)))


def _lookup(config: ExperimentConfig, key: str) -> Any:
    value: Any = config
    for part in key.split("."):
        value = getattr(value, part)
    return value


# --- files, combos and overrides -----------------------------------------------------------

def configs_dir() -> Path:
    """Return the folder with combo files: ./configs when present, else the repository's."""
    local = Path.cwd() / "configs"
    if local.is_dir():
        return local
    return Path(__file__).resolve().parent.parent / "configs"


def resolve_config_path(name_or_path: str) -> Path:
    """Turn `combo_a`, `combo_a.yaml` or a file path into an existing config file."""
    candidate = Path(name_or_path)
    if candidate.is_file():
        return candidate
    for folder in (configs_dir(), configs_dir() / "sequences"):
        for option in (folder / name_or_path, folder / f"{name_or_path}.yaml"):
            if option.is_file():
                return option
    raise ConfigError(_("config {name!r} not found: give a YAML path or a combo name from {folder} "
                        "(see `xmr combos`)").format(name=name_or_path, folder=configs_dir()))


def load_yaml_tree(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Load a YAML config, merging the file it ``extends:`` underneath it."""
    path = path.resolve()
    if path in _seen:
        raise ConfigError(_("{path}: `extends` forms a cycle").format(path=path))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError(_("{path}: invalid YAML: {error}").format(path=path, error=error)) from None
    if not isinstance(data, dict):
        raise ConfigError(_("{path}: expected a mapping at the top level").format(path=path))
    parent = data.pop("extends", None)
    if parent is None:
        return data
    base = load_yaml_tree((path.parent / parent), _seen + (path,))
    return deep_merge(base, data)


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_override(text: str) -> dict[str, Any]:
    """Turn ``a.b=value`` into ``{"a": {"b": value}}``; the value is parsed as YAML."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(_("override {text!r} is invalid; expected key.path=value, e.g. train.steps=200").format(
            text=text))
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return override_tree(key.strip(), value)


def override_tree(key: str, value: Any) -> dict[str, Any]:
    """Turn a dotted key and its value into nested mappings: ``("a.b", 1)`` → ``{"a": {"b": 1}}``."""
    tree: dict[str, Any] = {}
    node = tree
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return tree


def load_config(name_or_path: str, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Compose defaults, a config file and ``key=value`` overrides into a validated config."""
    path = resolve_config_path(name_or_path)
    data = load_yaml_tree(path)
    data.setdefault("name", path.stem)
    for override in overrides:
        data = deep_merge(data, parse_override(override))
    try:
        return config_from_dict(data)
    except ConfigError as error:
        raise ConfigError(f"{path.name}: {error}") from None


# --- the one-line summary --------------------------------------------------------------------

def summary_line(config: ExperimentConfig) -> str:
    """Return the one-line config summary: every axis that a comparison may change.

    A backbone that stands in for another (offline twins) is shown as ``used(for:original)``.
    """
    text, image, head, sim = config.text, config.image, config.head, config.similarity
    parts = [
        f"text={_backbone_label(text.backbone, text.stand_in_for)}/{text.pooling}/unfreeze:{text.unfreeze_layers}",
        f"image={_backbone_label(image.backbone, image.stand_in_for)}/{image.readout}/unfreeze:{image.unfreeze}"
        f"@{image.image_size}px",
        f"head={head.kind}({'shared' if head.shared else 'separate'},{head.embed_dim}d)",
        _fusion_label(config.fusion),
        f"sim={sim.kind}",
        _temperature_label(sim),
        f"loss=info_nce:{config.loss.directions}/{_negatives_label(config.loss)}",
        _optim_label(config.optim),
        f"aug={config.augment.image}/{config.augment.text}",
        f"index={_index_part(config.eval)}",
        f"steps={config.train.steps}x{config.train.batch_size}",
        f"seed={config.train.seed}",
    ]
    if config.train.use_amp:
        parts.append(f"amp:{config.train.amp_dtype}")
    if config.train.grad_checkpoint:
        parts.append("grad_ckpt")
    return " ".join(parts)


def _backbone_label(backbone: str, stand_in_for: str | None) -> str:
    return f"{backbone}(for:{stand_in_for})" if stand_in_for else backbone


def _fusion_label(fusion: FusionConfig) -> str:
    return f"fusion=early(rerank@{fusion.rerank_k})" if fusion.kind == "early" else f"fusion={fusion.kind}"


def _temperature_label(sim: SimilarityConfig) -> str:
    if sim.learnable == "fixed":
        return f"τ={sim.temperature:g}"
    return f"τ=learnable:{sim.learnable}({sim.temperature:g},max_scale={sim.max_logit_scale:g})"


def _negatives_label(loss: LossConfig) -> str:
    sizes = {"hard": f"(k={loss.hard_k})", "queue": f"({loss.queue_size})"}
    return loss.negatives + sizes.get(loss.negatives, "")


def _optim_label(optim: OptimConfig) -> str:
    optimizer = optim.optimizer
    if optimizer == "adamw_llrd":
        optimizer += f"({optim.llrd_factor:g})"
    schedule = optim.scheduler
    if schedule == "warmup_cosine":
        schedule += f"({optim.warmup_ratio:g},{optim.min_lr_ratio:g})"
    accum = f",accum={optim.grad_accum}" if optim.grad_accum > 1 else ""
    return f"optim={optimizer}+{schedule}(lr={optim.lr:g},backbone_lr={optim.backbone_lr:g}{accum})"


def _index_part(config: EvalConfig) -> str:
    if config.rerank == "none":
        return config.index
    return f"{config.index}+rerank:{config.rerank}@{config.top_k}"
