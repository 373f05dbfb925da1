"""`xmr queue`, `xmr worker`, `xmr runs` and `xmr report` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.config import config_from_dict
from engine.sink import StepRecord
from xmr_tui.cli.main import app
from xmr_tui.store import RunStatus, Store
from xmr_tui.store import runs as store_runs

runner = CliRunner(env={"COLUMNS": "240"})  # wide enough that Rich tables do not wrap cells

TINY = ["--set", "text.backbone=use-m3", "--set", "image.image_size=32", "--set", "train.steps=4",
        "--set", "train.batch_size=8", "--set", "head.hidden_dim=64", "--set", "eval.batch_size=16"]


def invoke(*args: str):
    return runner.invoke(app, list(args))


def finished_run(store: Store, seed: int, recall: float, backbone: str = "use-m3", losses=(2.0, 1.0)) -> int:
    """Store a finished run with metrics and a loss curve, without training."""
    config = config_from_dict({"name": f"combo_{backbone}", "text": {"backbone": backbone},
                               "train": {"seed": seed, "steps": 20}})
    run = store_runs.create_run(store, config, status=RunStatus.running)
    store_runs.add_steps(store, run.id, [StepRecord(step=10 * (i + 1), loss=loss, lr=1e-3 / (i + 1),
                                                    samples_per_s=100.0) for i, loss in enumerate(losses)])
    store_runs.set_metrics(store, run.id, {"t2i/R@1": recall, "i2t/R@1": recall / 2, "t2i/R@5": 80.0,
                                           "t2i/gallery": 16.0, "t2i/queries": 32.0, "t2i/random_R@10": 62.5})
    store_runs.finish_run(store, run.id, RunStatus.finished)
    return run.id


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "experiments.db"


@pytest.fixture
def report_store(db: Path) -> Path:
    store = Store(db)
    finished_run(store, seed=1, recall=40.0)
    finished_run(store, seed=2, recall=50.0, losses=(2.0, 0.5, 0.8))
    finished_run(store, seed=1, recall=30.0, backbone="tiny-bert-zh")
    return db


def test_queue_add_queues_one_run_per_seed(db: Path, toy_dataset: Path):
    result = invoke("queue", "add", "demo_baseline", *TINY, "--dataset", str(toy_dataset), "--seeds", "1,2,3",
                    "--db", str(db))

    assert result.exit_code == 0, result.output
    assert "3 run(s) queued" in result.output
    runs = store_runs.list_runs(Store(db))
    assert [(run.seed, run.status) for run in runs] == [(s, RunStatus.queued) for s in (1, 2, 3)]
    assert {run.dataset for run in runs} == {str(toy_dataset)}


@pytest.mark.parametrize("args, message", [
    (["no_such_combo"], "config 'no_such_combo' not found"),
    (["demo_baseline", "--set", "train.stepz=3"], "unknown key 'train.stepz'"),
    (["demo_baseline", "--set", "novalue"], "override 'novalue' is invalid"),
    (["demo_baseline", "--dataset", "/no/such/folder"], "'/no/such/folder' is neither a built-in dataset"),
    (["demo_baseline", "--seeds", "1,x"], "--seeds '1,x' is invalid"),
    (["--sequence", "text_side", "demo_baseline"], "not both"),
])
def test_queue_add_errors_are_one_line(db: Path, args, message):
    result = invoke("queue", "add", *args, "--db", str(db))

    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_queue_list_cancel_and_retry(db: Path, toy_dataset: Path):
    invoke("queue", "add", "demo_baseline", *TINY, "--dataset", str(toy_dataset), "--db", str(db))

    assert "queued" in invoke("queue", "list", "--db", str(db)).output
    assert invoke("queue", "cancel", "1", "--db", str(db)).exit_code == 0
    assert store_runs.get_run(Store(db), 1).status == RunStatus.cancelled
    again = invoke("queue", "cancel", "1", "--db", str(db))
    assert again.exit_code == 1
    assert "already cancelled" in again.output
    assert invoke("queue", "retry", "1", "--db", str(db)).exit_code == 0
    assert store_runs.get_run(Store(db), 1).status == RunStatus.queued


def test_queue_cancel_unknown_run_is_one_line(db: Path):
    result = invoke("queue", "cancel", "42", "--db", str(db))

    assert result.exit_code == 1
    assert "no run with id 42" in result.output


def test_worker_once_trains_queued_run(db: Path, toy_dataset: Path):
    invoke("queue", "add", "demo_baseline", *TINY, "--dataset", str(toy_dataset), "--db", str(db))

    result = invoke("worker", "--once", "--device", "cpu", "--db", str(db))

    assert result.exit_code == 0, result.output
    assert "processed 1 run(s)" in result.output
    run = store_runs.get_run(Store(db), 1)
    assert run.status == RunStatus.finished
    assert (db.parent / "runs" / "1").is_dir()
    assert not list((db.parent / "workers").glob("*.json")), "the pid file outlived the worker"


def test_worker_status_and_stop_without_workers(db: Path):
    status = invoke("worker", "status", "--db", str(db))
    stop = invoke("worker", "stop", "--db", str(db))

    assert "no workers are running" in status.output
    assert stop.exit_code == 1
    assert "no running worker" in stop.output


def test_runs_list_show_and_diff(report_store: Path):
    listing = invoke("runs", "list", "--db", str(report_store))
    shown = invoke("runs", "show", "3", "--db", str(report_store))
    diff = invoke("runs", "diff", "1", "3", "--db", str(report_store))
    same = invoke("runs", "diff", "1", "1", "--db", str(report_store))

    assert listing.exit_code == 0
    assert "combo_tiny-bert-zh" in listing.output
    assert "t2i/R@1" in shown.output
    assert "text.backbone" in diff.output
    assert "train.seed" not in diff.output
    assert "identical configs" in same.output


def test_runs_show_unknown_run_is_one_line(report_store: Path):
    result = invoke("runs", "show", "99", "--db", str(report_store))

    assert result.exit_code == 1
    assert result.output.strip() == "error: no run with id 99; see `xmr runs list`"


def test_report_averages_repeated_seeds(report_store: Path):
    result = invoke("report", "--format", "json", "--db", str(report_store))

    groups = json.loads(result.output)
    assert [group["runs"] for group in groups] == [[1, 2], [3]]
    assert groups[0]["seeds"] == [1, 2]
    assert groups[0]["metrics"]["t2i/R@1"]["mean"] == 45.0
    assert groups[0]["metrics"]["t2i/R@1"]["std"] == pytest.approx(7.0711, abs=1e-4)
    assert groups[0]["metrics"]["train/loss_best"]["mean"] == 0.75   # runs' best losses 1.0 and 0.5
    assert groups[0]["metrics"]["train/loss_last"]["mean"] == 0.9    # runs' last losses 1.0 and 0.8
    assert groups[1]["metrics"]["t2i/R@1"]["std"] is None


@pytest.mark.parametrize("format, expected, evaluation", [
    ("markdown", "| 1,2 | combo_use-m3 | 1,2 | **45.00 ± 7.07** |", "`test` split: 32 caption queries × 16 images"),
    ("csv", "2,emoji-zh,test,32.0,16.0,45.0,7.07", "runs,name,seeds,n,dataset,split,queries,gallery"),
    ("json", '"mean": 45.0', '"split": "test",\n      "queries": 32.0,\n      "gallery": 16.0'),
    ("latex", r"\textbf{45.00 $\pm$ 7.07}", "% emoji-zh test split: 32 caption queries × 16 images"),
])
def test_report_formats_state_stats_and_split(report_store: Path, format, expected, evaluation):
    result = invoke("report", "--format", format, "--db", str(report_store))

    assert result.exit_code == 0, result.output
    assert expected in result.output
    assert evaluation in result.output


def test_report_group_by_config_key(report_store: Path):
    result = invoke("report", "--format", "json", "--group-by", "text.backbone", "--db", str(report_store))

    assert [group["group"] for group in json.loads(result.output)] == ['text.backbone="use-m3"',
                                                                       'text.backbone="tiny-bert-zh"']


def test_report_group_by_unknown_key_is_one_line(report_store: Path):
    result = invoke("report", "--group-by", "text.nope", "--db", str(report_store))

    assert result.exit_code == 1
    assert "--group-by 'text.nope'" in result.output


def test_report_writes_plots(report_store: Path, tmp_path: Path):
    result = invoke("report", "--plots", str(tmp_path / "plots"), "--db", str(report_store))

    assert result.exit_code == 0, result.output
    for name in ("loss.png", "lr.png", "recall.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 1000, name


@pytest.mark.parametrize("command", [[], ["queue"], ["queue", "add"], ["queue", "list"], ["queue", "cancel"],
                                     ["queue", "retry"], ["worker"], ["worker", "status"], ["worker", "stop"],
                                     ["runs"], ["runs", "list"], ["runs", "show"], ["runs", "diff"], ["report"]])
def test_every_command_has_help(command):
    result = invoke(*command, "--help")

    assert result.exit_code == 0
    assert "Usage" in result.output


def test_queue_add_sequence_records_its_name(db: Path, toy_dataset: Path, monkeypatch):
    # A stand-in for engine.sequences: the loader returns (run name, config) pairs in order.
    import sys
    import types

    def load_sequence(name, overrides):
        base = {"name": f"{name}/start", "data": {"dataset": str(toy_dataset)}}
        return [("start", config_from_dict(base)),
                ("cls", config_from_dict({**base, "name": f"{name}/cls", "text": {"pooling": "cls"}}))]

    monkeypatch.setitem(sys.modules, "engine.sequences", types.SimpleNamespace(load_sequence=load_sequence))

    result = invoke("queue", "add", "--sequence", "text_side", "--db", str(db))

    assert result.exit_code == 0, result.output
    runs = store_runs.list_runs(Store(db))
    assert [(run.name, run.sequence) for run in runs] == [("text_side/start", "text_side"),
                                                          ("text_side/cls", "text_side")]
