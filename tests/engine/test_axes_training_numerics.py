"""Temperature, gradient accumulation, AMP, gradient checkpointing and run-to-run determinism."""

from __future__ import annotations

import math

import pytest
import torch

from engine.metrics import is_measurement

from engine.config import ConfigError
from engine.train import resolve_amp_dtype, run
from tests.engine.axes_support import RecordingSink, build_trainer, first_batch, axes_config



# --- temperature -----------------------------------------------------------------------------

def test_learnable_temperature_moves_and_is_logged(toy_dataset):
    sink = RecordingSink()
    trainer = build_trainer(axes_config(toy_dataset, {"similarity.learnable": "shared", "optim.lr": 0.05,
                                                   "train.steps": 3}), sink)
    trainer.fit()

    values = [record.temperatures["temperature"] for record in sink.records]
    assert len(values) == 3  # one record per step with train.log_every=1
    assert values[-1] != pytest.approx(0.07)


def test_per_direction_temperature_logs_two_values(toy_dataset):
    sink = RecordingSink()
    trainer = build_trainer(axes_config(toy_dataset, {"similarity.learnable": "per_direction", "optim.lr": 0.05}), sink)
    trainer.fit()
    assert set(sink.records[-1].temperatures) == {"temperature_t2i", "temperature_i2t"}
    assert trainer.model.temperature.log_scale.shape == (2,)


def test_learned_scale_stays_clamped(toy_dataset):
    # 1/τ starts at 20, above the bound of 10, and a large LR pushes the scale up further.
    config = axes_config(toy_dataset, {"similarity.learnable": "shared", "similarity.temperature": 0.05,
                                    "similarity.max_logit_scale": 10.0, "optim.lr": 0.5, "train.steps": 3})
    sink = RecordingSink()
    trainer = build_trainer(config, sink)
    trainer.fit()

    assert trainer.model.temperature.log_scale.item() <= math.log(10.0) + 1e-6
    assert all(record.temperatures["temperature"] >= 0.1 - 1e-6 for record in sink.records)


def test_fixed_temperature_is_not_a_parameter(toy_dataset):
    trainer = build_trainer(axes_config(toy_dataset))
    assert "temperature.log_scale" not in dict(trainer.model.named_parameters())


# --- gradient accumulation -------------------------------------------------------------------

def gradients(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def test_accumulation_averages_micro_batch_gradients(toy_dataset):
    """grad_accum=2 gives the gradient of the mean of the two micro-batch losses.

    In-batch negatives come from each micro-batch, so the reference scores each half alone.
    """
    settings = {"optim.grad_accum": 2, "optim.max_grad_norm": 0.0, "optim.lr": 1e-9}
    accumulated = build_trainer(axes_config(toy_dataset, settings))
    batch = first_batch(accumulated)
    accumulated.train_step(batch)

    reference = build_trainer(axes_config(toy_dataset, settings))
    reference.batches().__next__()  # fills the same feature cache
    loss = (reference.micro_batch_loss(batch, slice(0, 4)) + reference.micro_batch_loss(batch, slice(4, 8))) / 2
    loss.backward()

    expected = gradients(reference.model)
    actual = gradients(accumulated.model)
    assert expected.keys() == actual.keys()
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], rtol=1e-5, atol=1e-7, msg=name)


def test_accumulation_rejects_uneven_split(toy_dataset):
    with pytest.raises(ConfigError, match=r"optim\.grad_accum: 3 is invalid; expected a divisor of train\.batch_size"):
        axes_config(toy_dataset, {"optim.grad_accum": 3})


# --- precision and memory --------------------------------------------------------------------

def test_cpu_amp_keeps_fp32_parameters(toy_dataset):
    trainer = build_trainer(axes_config(toy_dataset, {"train.use_amp": True, "text.unfreeze_layers": 2}))
    loss = trainer.train_step(first_batch(trainer))

    assert trainer.amp_dtype == torch.bfloat16
    assert math.isfinite(loss)
    assert {p.dtype for p in trainer.model.parameters()} == {torch.float32}


def test_amp_off_keeps_everything_fp32(toy_dataset):
    trainer = build_trainer(axes_config(toy_dataset))
    assert trainer.amp_dtype is None


@pytest.mark.parametrize("requested, device, expected", [
    ("auto", "cpu", torch.bfloat16), ("bf16", "cpu", torch.bfloat16),
    ("auto", "cuda", torch.float16), ("fp16", "cuda", torch.float16), ("bf16", "cuda", torch.bfloat16)])
def test_amp_dtype_resolves_per_device(toy_dataset, requested, device, expected):
    config = axes_config(toy_dataset, {"train.use_amp": True, "train.amp_dtype": requested})
    assert resolve_amp_dtype(config.train, torch.device(device)) == expected


def test_fp16_on_cpu_names_key(toy_dataset):
    config = axes_config(toy_dataset, {"train.use_amp": True, "train.amp_dtype": "fp16"})
    with pytest.raises(ConfigError, match=r"train\.amp_dtype: 'fp16' needs CUDA"):
        resolve_amp_dtype(config.train, torch.device("cpu"))


def test_grad_checkpoint_gives_same_gradients(toy_dataset):
    settings = {"text.unfreeze_layers": 2, "image.unfreeze": "all", "optim.max_grad_norm": 0.0, "optim.lr": 1e-9}
    results = []
    for checkpoint in (False, True):
        trainer = build_trainer(axes_config(toy_dataset, {**settings, "train.grad_checkpoint": checkpoint}))
        trainer.model.eval()  # no dropout, so both passes compute the same function
        torch.manual_seed(0)
        trainer.micro_batch_loss(first_batch(trainer), slice(0, 8)).backward()
        results.append(gradients(trainer.model))

    plain, checkpointed = results
    assert plain.keys() == checkpointed.keys()
    assert any(name.startswith("text_encoder.backbone.model.encoder.layer.3.") for name in plain)
    for name in plain:
        torch.testing.assert_close(checkpointed[name], plain[name], rtol=1e-4, atol=1e-6, msg=name)


# --- determinism -----------------------------------------------------------------------------

def reproducible_metrics(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if not is_measurement(k)}


def test_same_config_and_seed_give_identical_metrics(toy_dataset):
    config = axes_config(toy_dataset, {"text.unfreeze_layers": 2, "augment.image": "light",
                                    "augment.text": "synonym_replace", "train.steps": 3})
    first = run(config, RecordingSink())
    second = run(config, RecordingSink())
    assert reproducible_metrics(first.metrics) == reproducible_metrics(second.metrics)


def test_worker_count_does_not_change_metrics(toy_dataset):
    settings = {"augment.image": "geometric", "augment.text": "random_delete", "image.unfreeze": "top_block",
                "train.steps": 2}
    in_process = run(axes_config(toy_dataset, settings), RecordingSink())
    with_workers = run(axes_config(toy_dataset, {**settings, "data.num_workers": 2}), RecordingSink())
    assert reproducible_metrics(in_process.metrics) == reproducible_metrics(with_workers.metrics)
