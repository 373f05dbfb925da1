"""The compose model behind the Compose tab: axes read from the engine, presets, overrides.

Every axis is a config field whose allowed values the engine already defines. A field tagged
with ``registry=`` takes the names of that registry, and a ``Literal`` field its literal values.
A ``bool`` field takes true or false, and the two backbone fields the backbone registries. There
is no second list of names here, so a newly registered variant shows up in the menus by itself.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from engine.config import (ConfigError, ExperimentConfig, config_from_dict, configs_dir, deep_merge,
                           load_yaml_tree, override_tree)
from xmr_tui.i18n import _

# Backbone fields take any Hugging Face or timm name, so their metadata names no registry; the
# menus offer the registered (offline-loadable) backbones.
BACKBONE_REGISTRIES = {"text.backbone": "text_backbone", "image.backbone": "image_backbone"}
COMBO_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


@dataclass(frozen=True)
class Axis:
    """One menu of the Compose tab: a config key path and the values it may take."""

    key: str
    options: tuple[Any, ...]
    doc: str


def config_axes() -> list[Axis]:
    """Return every config field with a closed set of values, in config order."""
    from engine import components  # noqa: F401  (registers every variant)
    from engine.registry import REGISTRIES

    axes = []
    for section in dataclasses.fields(ExperimentConfig):
        hints = typing.get_type_hints(ExperimentConfig)
        section_type = hints[section.name]
        if not dataclasses.is_dataclass(section_type):
            continue
        section_hints = typing.get_type_hints(section_type)
        for spec in dataclasses.fields(section_type):
            key = f"{section.name}.{spec.name}"
            kind = spec.metadata.get("registry") or BACKBONE_REGISTRIES.get(key)
            hint = section_hints[spec.name]
            if kind and kind in REGISTRIES:
                options: tuple[Any, ...] = tuple(REGISTRIES[kind].names())
            elif typing.get_origin(hint) is Literal:
                options = typing.get_args(hint)
            elif hint is bool:
                options = (True, False)
            else:
                continue
            axes.append(Axis(key, options, spec.metadata.get("doc", "")))
    return axes


def list_presets(folder: Path | None = None) -> list[Path]:
    """Return the combo files that can start a composition (``configs/*.yaml``, combos first)."""
    folder = folder or configs_dir()
    files = [path for path in folder.glob("*.yaml") if path.stem != "common"]
    return sorted(files, key=lambda path: (not path.stem.startswith("combo_"), path.stem))


def default_preset(presets: list[Path]) -> Path:
    """Return the preset a new composition starts from: one that trains offline, so a first queue works."""
    for name in ("demo_baseline", "combo_a_offline"):
        for path in presets:
            if path.stem == name:
                return path
    offline = [path for path in presets if path.stem.endswith("_offline")]
    return (offline or presets)[0]


def get_value(tree: dict[str, Any], key: str) -> Any:
    node: Any = tree
    for part in key.split("."):
        node = node[part]
    return node


def nested(key: str, value: Any) -> dict[str, Any]:
    """Turn ``a.b`` and a value into ``{"a": {"b": value}}``."""
    return override_tree(key, value)


@dataclass
class Composition:
    """A preset combo file plus the axis values the user changed."""

    preset: Path
    overrides: dict[str, Any] = field(default_factory=dict)

    def tree(self) -> dict[str, Any]:
        data = load_yaml_tree(self.preset)
        data.setdefault("name", self.preset.stem)
        for key, value in self.overrides.items():
            data = deep_merge(data, nested(key, value))
        return data

    def build(self) -> ExperimentConfig:
        """Return the validated config, or raise ConfigError naming the bad key."""
        return config_from_dict(self.tree())

    def seeded(self, count: int) -> list[ExperimentConfig]:
        """Return ``count`` configs that differ only in ``train.seed`` (the preset's seed, +1, …)."""
        if count < 1:
            raise ConfigError(_("number of seeds: {count} is invalid; expected at least 1").format(count=count))
        base = self.build()
        return [dataclasses.replace(base, train=dataclasses.replace(base.train, seed=base.train.seed + offset))
                for offset in range(count)]

    def save(self, name: str, folder: Path | None = None) -> Path:
        """Write the composition as ``configs/<name>.yaml`` that extends the preset; return its path."""
        if not COMBO_NAME.match(name):
            raise ConfigError(_("combo name {name!r} is invalid; use lower-case letters, digits, _ and -").format(
                name=name))
        folder = folder or self.preset.parent
        path = folder / f"{name}.yaml"
        if path.exists():
            raise ConfigError(_("{path} already exists; choose another name").format(path=path))
        self.build()
        body: dict[str, Any] = {"extends": self._extends_path(folder)}
        for key, value in self.overrides.items():
            body = deep_merge(body, nested(key, value))
        header = f"# Composed in xmr-tui from {self.preset.name}, changing: {', '.join(self.overrides) or 'nothing'}\n"
        path.write_text(header + yaml.safe_dump(body, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path

    def _extends_path(self, folder: Path) -> str:
        try:
            return str(self.preset.resolve().relative_to(folder.resolve()))
        except ValueError:
            return str(self.preset.resolve())
