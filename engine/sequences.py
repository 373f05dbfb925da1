"""Ordered single-variable sequences of runs, and the catalog of combos and sequences.

A sequence file (``configs/sequences/*.yaml``) names a base config and an ordered list of runs.
Each run applies its ``set`` overrides on top of the previous run, and every run after the first
must change exactly one config key, so neighbouring runs differ in one variable::

    description: text side, one change at a time
    base: ../combo_a_offline.yaml      # a path relative to this file, or a config name
    runs:
      - name: start                    # the first run may set several keys: the starting point
        set: {text.backbone: tiny-bert-zh, text.unfreeze_layers: all}
      - name: cls_pooling
        set: {text.pooling: cls}

``load_sequence`` returns ``[(run name, ExperimentConfig), ...]`` in order; ``catalog`` lists
combos and sequences with their one-line summaries for ``xmr combos``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.config import (ConfigError, ExperimentConfig, config_from_dict, configs_dir, deep_merge,
                           load_config, load_yaml_tree, override_tree, parse_override, resolve_config_path,
                           summary_line)
from engine.messages import _

# Top-level config files that ``catalog`` lists as combos (shared bases such as common.yaml are not).
COMBO_PATTERNS = ("combo_*.yaml", "demo_*.yaml")
SEQUENCE_KEYS = {"description", "base", "runs"}
RUN_KEYS = {"name", "set"}


@dataclass
class CatalogEntry:
    """One combo or sequence as ``xmr combos`` lists it."""

    kind: str                       # "combo" or "sequence"
    name: str                       # file stem, usable wherever a config or sequence name is expected
    path: Path
    summary: str                    # combo: its one-line summary; sequence: its description
    runs: list[tuple[str, str]] = field(default_factory=list)  # sequence: (run name, summary line)
    error: str | None = None        # set when the file does not load; the other fields are partial


def resolve_sequence_path(name_or_path: str) -> Path:
    """Turn ``text_side``, ``text_side.yaml`` or a path into an existing sequence file."""
    candidate = Path(name_or_path)
    if candidate.is_file():
        return candidate
    folder = configs_dir() / "sequences"
    for option in (folder / name_or_path, folder / f"{name_or_path}.yaml"):
        if option.is_file():
            return option
    known = ", ".join(sorted(p.stem for p in folder.glob("*.yaml"))) or "none"
    raise ConfigError(_("sequence {name!r} not found in {folder}; known sequences: {known}").format(
        name=name_or_path, folder=folder, known=known))


def load_sequence(name_or_path: str, overrides: list[str] | tuple[str, ...] = ()) -> list[tuple[str, ExperimentConfig]]:
    """Return the runs of a sequence in order as ``(run name, validated config)``.

    ``overrides`` (``key=value``) apply to every run; an override of a key that the sequence
    itself varies is rejected, because it would erase the comparison.
    """
    path = resolve_sequence_path(name_or_path)
    spec = _read_sequence_file(path)
    runs = [_parse_run(path, index, run) for index, run in enumerate(spec["runs"])]
    _reject_varied_overrides(path, runs, overrides)

    data = load_yaml_tree(_resolve_base(path, spec["base"]))
    for override in overrides:
        data = deep_merge(data, parse_override(override))

    result: list[tuple[str, ExperimentConfig]] = []
    previous: ExperimentConfig | None = None
    for name, settings in runs:
        for key, value in settings.items():
            data = deep_merge(data, override_tree(key, value))
        config = _build_run_config(path, name, data)
        if previous is not None:
            _check_one_change(path, name, previous, config)
        result.append((name, config))
        previous = config
    return result


def _read_sequence_file(path: Path) -> dict[str, Any]:
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(_("{path}: invalid YAML: {error}").format(path=path, error=error)) from None
    allowed = ", ".join(sorted(SEQUENCE_KEYS))
    if not isinstance(spec, dict):
        raise ConfigError(_("{path}: expected a mapping with keys {allowed}").format(path=path, allowed=allowed))
    unknown = set(spec) - SEQUENCE_KEYS
    if unknown:
        raise ConfigError(_("{path}: unknown key {key!r}; allowed: {allowed}").format(
            path=path, key=sorted(unknown)[0], allowed=allowed))
    for key in ("base", "runs"):
        if key not in spec:
            raise ConfigError(_("{path}: missing key {key!r}").format(path=path, key=key))
    if not isinstance(spec["runs"], list) or len(spec["runs"]) < 2:
        raise ConfigError(_("{path}: runs: expected a list of at least 2 runs").format(path=path))
    return spec


def _parse_run(path: Path, index: int, run: Any) -> tuple[str, dict[str, Any]]:
    where = f"{path.name}: runs[{index}]"
    if not isinstance(run, dict) or "name" not in run:
        raise ConfigError(_("{where}: expected a mapping with a `name` and optional `set`").format(where=where))
    unknown = set(run) - RUN_KEYS
    if unknown:
        raise ConfigError(_("{where}: unknown key {key!r}; allowed: name, set").format(where=where,
                                                                                   key=sorted(unknown)[0]))
    settings = run.get("set") or {}
    if not isinstance(settings, dict):
        raise ConfigError(_("{where}.set: expected a mapping of dotted keys to values, e.g. {example}").format(
            where=where, example="{text.pooling: cls}"))
    if index > 0 and len(settings) != 1:
        raise ConfigError(_("{where} ({name}): sets {count} keys; every run after the first must change exactly "
                            "one").format(where=where, name=run["name"], count=len(settings)))
    return str(run["name"]), settings


def _reject_varied_overrides(path: Path, runs: list[tuple[str, dict[str, Any]]], overrides: tuple[str, ...] | list[str]) -> None:
    varied = {key for _name, settings in runs[1:] for key in settings}
    for override in overrides:
        key = override.partition("=")[0].strip()
        if key in varied:
            raise ConfigError(_("--set {override}: {sequence} varies {key} from run to run; override another key "
                                "or edit the sequence file").format(override=override, sequence=path.stem, key=key))


def _resolve_base(path: Path, base: Any) -> Path:
    if not isinstance(base, str):
        raise ConfigError(_("{file}: base: expected a config path or name, got {value!r}").format(file=path.name,
                                                                                                   value=base))
    relative = path.parent / base
    return relative if relative.is_file() else resolve_config_path(base)


def _build_run_config(path: Path, name: str, data: dict[str, Any]) -> ExperimentConfig:
    try:
        return config_from_dict({**data, "name": f"{path.stem}/{name}"})
    except ConfigError as error:
        raise ConfigError(_("{file}: run {name!r}: {error}").format(file=path.name, name=name, error=error)) from None


def _check_one_change(path: Path, name: str, previous: ExperimentConfig, config: ExperimentConfig) -> None:
    changed = changed_keys(previous, config)
    if len(changed) != 1:
        what = ", ".join(changed) if changed else _("nothing")
        raise ConfigError(_("{file}: run {name!r} changes {what} compared with the previous run; each run must "
                            "change exactly one value").format(file=path.name, name=name, what=what))


def changed_keys(before: ExperimentConfig, after: ExperimentConfig) -> list[str]:
    """Return the dotted keys whose values differ, ignoring the name and unhashed labels."""
    flat_before, flat_after = _flatten(before), _flatten(after)
    return sorted(key for key in flat_after if flat_before.get(key) != flat_after[key])


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for spec in dataclasses.fields(node):
        if spec.name == "name" or not spec.metadata.get("hashed", True):
            continue
        value = getattr(node, spec.name)
        key = f"{prefix}{spec.name}"
        if dataclasses.is_dataclass(value):
            flat.update(_flatten(value, f"{key}."))
        else:
            flat[key] = value
    return flat


# --- the catalog -------------------------------------------------------------------------------

def catalog(folder: Path | None = None) -> list[CatalogEntry]:
    """List every combo and sequence under ``folder`` (default: ``configs_dir()``), sorted by name."""
    folder = folder or configs_dir()
    combos = sorted({p for pattern in COMBO_PATTERNS for p in folder.glob(pattern)})
    entries = [_combo_entry(path) for path in combos]
    entries += [_sequence_entry(path) for path in sorted((folder / "sequences").glob("*.yaml"))]
    return entries


def _combo_entry(path: Path) -> CatalogEntry:
    try:
        return CatalogEntry("combo", path.stem, path, summary_line(load_config(str(path))))
    except ConfigError as error:
        return CatalogEntry("combo", path.stem, path, "", error=str(error))


def _sequence_entry(path: Path) -> CatalogEntry:
    try:
        description = str(_read_sequence_file(path).get("description", ""))
        runs = [(name, summary_line(config)) for name, config in load_sequence(str(path))]
    except ConfigError as error:
        return CatalogEntry("sequence", path.stem, path, "", error=str(error))
    return CatalogEntry("sequence", path.stem, path, description, runs)
