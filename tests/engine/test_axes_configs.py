"""Combo and sequence files, config errors that name the key, and the generated key reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import ConfigError, config_from_dict, load_config, summary_line
from engine.config_doc import key_rows, render_reference, value_sections
from engine.sequences import catalog, changed_keys, load_sequence

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

# The plan's matrix, key by key.
COMBOS = {
    "combo_a": {"text.backbone": "bert-base-chinese", "image.backbone": "resnet50", "head.kind": "optimized_mlp",
                "similarity.kind": "cosine", "similarity.learnable": "fixed", "fusion.kind": "late",
                "loss.negatives": "in_batch"},
    "combo_b": {"text.backbone": "hfl/chinese-macbert-base", "image.backbone": "resnet50",
                "head.kind": "two_layer_mlp", "similarity.kind": "cosine", "similarity.learnable": "shared",
                "fusion.kind": "late", "loss.negatives": "in_batch"},
    "combo_c": {"text.backbone": "hfl/chinese-roberta-wwm-ext", "image.backbone": "convnext_tiny",
                "head.kind": "residual", "similarity.kind": "dot", "similarity.learnable": "fixed",
                "fusion.kind": "late", "loss.negatives": "in_batch"},
    "combo_d": {"text.backbone": "bert-base-chinese", "image.backbone": "vit_base_patch16_224",
                "head.kind": "two_layer_mlp", "similarity.kind": "cosine", "similarity.learnable": "shared",
                "fusion.kind": "early", "loss.negatives": "in_batch"},
    "combo_e": {"text.backbone": "hfl/chinese-macbert-base", "image.backbone": "resnet101",
                "head.kind": "optimized_mlp", "similarity.kind": "cosine", "similarity.learnable": "fixed",
                "fusion.kind": "late", "loss.negatives": "hard"},
}


def lookup(config, key: str):
    section, field = key.split(".")
    return getattr(getattr(config, section), field)


@pytest.mark.parametrize("name", sorted(COMBOS))
def test_combo_matches_plan(name):
    config = load_config(str(CONFIGS / f"{name}.yaml"))
    for key, expected in COMBOS[name].items():
        assert lookup(config, key) == expected, key


def test_combos_share_common_settings():
    keys = ("train.steps", "train.batch_size", "train.seed", "image.image_size", "text.max_length",
            "data.dataset", "optim.scheduler", "optim.warmup_ratio", "optim.min_lr_ratio")
    values = {name: tuple(lookup(load_config(str(CONFIGS / f"{name}.yaml")), k) for k in keys) for name in COMBOS}
    assert len(set(values.values())) == 1


@pytest.mark.parametrize("name", sorted(COMBOS))
def test_offline_twin_changes_only_backbones(name):
    original = load_config(str(CONFIGS / f"{name}.yaml"))
    twin = load_config(str(CONFIGS / f"{name}_offline.yaml"))

    assert changed_keys(original, twin) == ["image.backbone", "text.backbone"]
    assert twin.text.stand_in_for == original.text.backbone
    assert twin.image.stand_in_for == original.image.backbone
    assert f"use-m3(for:{original.text.backbone})" in summary_line(twin)
    assert f"efficientnet_lite0(for:{original.image.backbone})" in summary_line(twin)


def test_stand_in_label_does_not_change_hash():
    plain = config_from_dict({"text": {"backbone": "use-m3"}})
    labelled = config_from_dict({"text": {"backbone": "use-m3", "stand_in_for": "bert-base-chinese"}})
    assert plain.config_hash() == labelled.config_hash()


@pytest.mark.parametrize("sequence", ["text_side", "image_side"])
def test_sequence_changes_one_value_per_run(sequence):
    runs = load_sequence(str(CONFIGS / "sequences" / f"{sequence}.yaml"))
    assert 4 <= len(runs) <= 6
    for (_, before), (_, after) in zip(runs, runs[1:]):
        assert len(changed_keys(before, after)) == 1
    assert runs[0][1].name == f"{sequence}/{runs[0][0]}"


def test_sequence_override_applies_to_every_run():
    runs = load_sequence(str(CONFIGS / "sequences" / "text_side.yaml"), ["train.steps=7"])
    assert {config.train.steps for _, config in runs} == {7}


def test_sequence_override_of_varied_key_is_rejected():
    with pytest.raises(ConfigError, match=r"--set text\.pooling=cls: text_side varies text\.pooling"):
        load_sequence(str(CONFIGS / "sequences" / "text_side.yaml"), ["text.pooling=cls"])


def write_sequence(tmp_path: Path, runs: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(f"base: {CONFIGS / 'combo_a_offline.yaml'}\nruns:\n{runs}", encoding="utf-8")
    return path


def test_sequence_run_with_two_changes_is_rejected(tmp_path):
    path = write_sequence(tmp_path, "  - name: start\n  - name: two\n    set: {text.pooling: cls, head.kind: gated}\n")
    with pytest.raises(ConfigError, match=r"runs\[1\] \(two\): sets 2 keys"):
        load_sequence(str(path))


def test_sequence_run_without_change_is_rejected(tmp_path):
    path = write_sequence(tmp_path, "  - name: start\n  - name: same\n    set: {text.pooling: mean}\n")
    with pytest.raises(ConfigError, match=r"run 'same' changes nothing"):
        load_sequence(str(path))


def test_sequence_bad_value_names_run(tmp_path):
    path = write_sequence(tmp_path, "  - name: start\n  - name: typo\n    set: {loss.negatives: queu}\n")
    with pytest.raises(ConfigError, match=r"run 'typo': loss\.negatives: unknown value 'queu'"):
        load_sequence(str(path))


def test_catalog_lists_every_combo_and_sequence():
    entries = catalog(CONFIGS)
    names = {entry.name for entry in entries}
    assert {*COMBOS, *(f"{n}_offline" for n in COMBOS), "text_side", "image_side"} <= names
    assert "common" not in names
    assert [entry.name for entry in entries if entry.error] == []
    assert all(entry.summary for entry in entries)


@pytest.mark.parametrize("data, message", [
    ({"loss": {"negativs": "hard"}}, r"unknown key 'loss\.negativs'"),
    ({"loss": {"negatives": "memory"}}, r"loss\.negatives: unknown value 'memory'; allowed: in_batch, hard, queue"),
    ({"fusion": {"kind": "middle"}}, r"fusion\.kind: unknown value 'middle'; allowed: late, early"),
    ({"augment": {"text": "eda"}}, r"augment\.text: unknown value 'eda'; allowed: none, synonym_replace"),
    ({"optim": {"optimizer": "sgd"}}, r"optim\.optimizer: unknown value 'sgd'; allowed: adamw, adamw_llrd"),
    ({"image": {"unfreeze": "top"}}, r"image\.unfreeze: 'top' is invalid; allowed: none, top_block, all"),
    ({"text": {"unfreeze_layers": "some"}}, r"text\.unfreeze_layers: 'some' is invalid"),
    ({"train": {"amp_dtype": "fp8"}}, r"train\.amp_dtype: 'fp8' is invalid; allowed: auto, bf16, fp16"),
    ({"text": {"stand_in_for": 3}}, r"text\.stand_in_for: 3 is invalid; expected a string or null$"),
    ({"text": {"unfreeze_layers": 1.5}},
     r"text\.unfreeze_layers: 1\.5 is invalid; expected a whole number or one of: all$"),
    ({"fusion": {"hidden_dim": 0}}, r"fusion\.hidden_dim: 0 is invalid; expected at least 1"),
])
def test_config_error_names_key(data, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(data)


def test_readme_reference_is_current():
    readme = (CONFIGS / "README.md").read_text(encoding="utf-8")
    assert render_reference() in readme, "regenerate with: python -m engine.config_doc --write configs/README.md"


def test_reference_lists_every_key_and_value():
    reference = render_reference()
    for key, *_ in key_rows():
        assert f"| `{key}` |" in reference
    for _, entries in value_sections():
        for name, _ in entries:
            assert f"- `{name}`:" in reference


def test_offline_twins_share_feature_cache_key(toy_dataset):
    from types import SimpleNamespace

    from engine.data.datasets import load_split
    from engine.features import feature_cache_key

    keys = []
    for name in ("combo_a_offline", "combo_b_offline"):  # same backbones, different stand_in_for labels
        config = load_config(str(CONFIGS / f"{name}.yaml"), [f"data.dataset={toy_dataset}"])
        model = SimpleNamespace(config=config, image_encoder=SimpleNamespace(
            backbone=SimpleNamespace(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))))
        keys.append(feature_cache_key(model, load_split(config.data, "train")))
    assert keys[0] == keys[1]
