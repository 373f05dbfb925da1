"""Where pretrained weights come from, and the error raised when they cannot be found.

Hub backbones must load by name when the user has them (local path, Hugging Face cache,
torch hub cache) and fail within seconds with instructions when they do not; a missing
network must never turn into a hang.
"""

from __future__ import annotations

import os

from engine.messages import _


class WeightsNotFoundError(RuntimeError):
    """Raised when a pretrained backbone's weights are neither local nor downloadable."""


def offline() -> bool:
    """Return True when downloads must not be attempted (HF_HUB_OFFLINE or XMR_OFFLINE set)."""
    return any(os.environ.get(name, "").lower() in {"1", "true", "yes"}
               for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "XMR_OFFLINE"))


def missing_weights_message(name: str, where: str, config_key: str) -> str:
    return _("pretrained weights for {name!r} not found ({where}); provide them with a local path (`{key}`), put "
             "them in the Hugging Face / torch hub cache on a machine with network access, or set "
             "`{section}.pretrained=false` to train from random weights").format(
        name=name, where=where, key=config_key, section=config_key.rsplit(".", 1)[0])
