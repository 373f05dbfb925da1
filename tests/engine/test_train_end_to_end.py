"""Training and evaluation end to end on the toy dataset, and run-to-run determinism."""

import pytest

from engine.train import run


def test_tiny_run_trains_and_beats_random(tiny_config):
    config = tiny_config(text={"backbone": "use-m3"}, train={"steps": 40, "batch_size": 16})

    result = run(config)

    assert result.steps_done == 40
    assert result.metrics["t2i/R@1"] > 2 * 100 / result.metrics["t2i/gallery"]
    for key in ("t2i/R@1", "t2i/R@5", "t2i/R@10", "i2t/R@1", "t2i/mAP", "t2i/NDCG@10", "mean_recall"):
        assert 0.0 <= result.metrics[key] <= 100.0, key


@pytest.mark.parametrize("text", [
    {"backbone": "tiny-bert-zh"},                          # frozen: cached-feature path
    {"backbone": "tiny-bert-zh", "unfreeze_layers": 1},     # trainable: DataLoader path
])
def test_same_seed_gives_identical_metrics(tiny_config, text):
    config = tiny_config(text=text)

    first = run(config).metrics
    second = run(config).metrics

    for key in ("t2i/R@1", "t2i/mAP", "i2t/R@5", "i2t/NDCG@10"):
        assert first[key] == second[key], key


def test_different_seeds_change_the_model(tiny_config):
    first = run(tiny_config(train={"seed": 1})).metrics
    second = run(tiny_config(train={"seed": 2})).metrics

    assert first["t2i/mAP"] != second["t2i/mAP"]
