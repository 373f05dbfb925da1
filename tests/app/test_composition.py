"""The compose model: menus read from the engine's registries, presets, saved combo files."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import ConfigError, load_config
from engine.registry import REGISTRIES
from xmr_tui.app.composition import Composition, config_axes, default_preset, list_presets


def test_axes_take_registry_names():
    axes = {axis.key: axis.options for axis in config_axes()}
    assert axes["head.kind"] == tuple(REGISTRIES["projector"].names())
    assert axes["loss.negatives"] == tuple(REGISTRIES["negatives"].names())
    assert axes["text.backbone"] == tuple(REGISTRIES["text_backbone"].names())


def test_axes_take_literal_and_bool_values():
    axes = {axis.key: axis.options for axis in config_axes()}
    assert axes["similarity.learnable"] == ("fixed", "shared", "per_direction")
    assert axes["head.shared"] == (True, False)
    assert "train.steps" not in axes


def test_presets_list_combos_first(configs):
    (configs / "combo_z.yaml").write_text("extends: demo_baseline.yaml\n")
    (configs / "common.yaml").write_text("train: {steps: 5}\n")
    names = [path.stem for path in list_presets(configs)]
    assert names == ["combo_z", "demo_baseline", "demo_learnable_temp"]


def test_saved_combo_loads_as_composed(configs, monkeypatch):
    monkeypatch.chdir(configs.parent)
    composition = Composition(configs / "demo_learnable_temp.yaml", {"similarity.learnable": "fixed"})
    path = composition.save("fixed_temp")
    loaded = load_config(str(path))
    assert loaded.similarity.learnable == "fixed"
    assert loaded.config_hash() == composition.build().config_hash()


def test_save_rejects_existing_name(configs):
    composition = Composition(configs / "demo_baseline.yaml")
    with pytest.raises(ConfigError, match="already exists"):
        composition.save("demo_learnable_temp")


def test_save_rejects_invalid_name(configs):
    composition = Composition(configs / "demo_baseline.yaml")
    with pytest.raises(ConfigError, match="invalid"):
        composition.save("My Combo")


def test_seeded_rejects_zero_seeds(configs):
    with pytest.raises(ConfigError, match="at least 1"):
        Composition(configs / "demo_baseline.yaml").seeded(0)


def test_default_preset_trains_offline():
    presets = [Path(f"configs/{name}.yaml") for name in ("combo_a", "combo_a_offline", "combo_b", "demo_baseline")]

    assert default_preset(presets).stem == "demo_baseline"
    assert default_preset(presets[:3]).stem == "combo_a_offline"
    assert default_preset([Path("combo_a.yaml"), Path("combo_b_offline.yaml")]).stem == "combo_b_offline"
