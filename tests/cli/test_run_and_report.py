"""`xmr run` stores a run that `xmr report` prints; bad input is one line on stderr."""

from typer.testing import CliRunner

from xmr_tui.cli.main import app

runner = CliRunner()

TINY = ["--set", "text.backbone=use-m3", "--set", "image.image_size=32", "--set", "train.steps=6",
        "--set", "train.batch_size=8", "--set", "head.hidden_dim=64", "--set", "eval.batch_size=16"]


def test_run_then_report_shows_both_runs(tmp_path, toy_dataset):
    db = tmp_path / "experiments.db"
    data = ["--set", f"data.dataset={toy_dataset}", "--db", str(db)]

    for combo in ("demo_baseline", "demo_learnable_temp"):
        result = runner.invoke(app, ["run", combo, *TINY, *data])
        assert result.exit_code == 0, result.output

    report = runner.invoke(app, ["report", "--format", "markdown", "--db", str(db)])
    assert report.exit_code == 0, report.output
    assert "| 1 | demo_baseline |" in report.output
    assert "| 2 | demo_learnable_temp |" in report.output
    assert "τ=learnable:shared" in report.output
    assert "random-ranking t2i R@10" in report.output


def test_unknown_config_key_is_one_line_error(tmp_path):
    result = runner.invoke(app, ["run", "demo_baseline", "--set", "train.stepz=3", "--db", str(tmp_path / "x.db")])

    assert result.exit_code == 1
    assert "unknown key 'train.stepz'" in result.output
    assert "Traceback" not in result.output


def test_report_on_empty_store_says_how_to_start(tmp_path):
    result = runner.invoke(app, ["report", "--db", str(tmp_path / "empty.db")])

    assert result.exit_code == 1
    assert "xmr run demo_baseline" in result.output


def test_combos_lists_every_combo_and_sequence():
    result = runner.invoke(app, ["combos"])

    assert result.exit_code == 0, result.output
    for name in ("combo_a", "combo_e_offline", "demo_baseline", "sequence text_side", "sequence image_side"):
        assert name in result.output, name
    assert "use-m3(for:bert-base-chinese)" in result.output


def test_missing_dataset_stores_no_run(tmp_path):
    db = tmp_path / "experiments.db"

    result = runner.invoke(app, ["run", "demo_baseline", "--set", "data.dataset=/nonexistent", "--db", str(db)])
    listing = runner.invoke(app, ["runs", "list", "--db", str(db)])

    assert result.exit_code == 1
    assert "data.dataset: '/nonexistent'" in result.output
    assert "demo_baseline" not in listing.output


def test_bad_device_stores_no_run(tmp_path):
    db = tmp_path / "experiments.db"

    result = runner.invoke(app, ["run", "demo_baseline", "--device", "tpu", "--db", str(db)])
    listing = runner.invoke(app, ["runs", "list", "--db", str(db)])

    assert result.exit_code == 1
    assert "--device 'tpu' is invalid" in result.output
    assert "demo_baseline" not in listing.output


def test_report_names_missing_run(tmp_path):
    result = runner.invoke(app, ["report", "--runs", "999", "--db", str(tmp_path / "e.db")])

    assert result.exit_code == 1
    assert "--runs: no run with id 999" in result.output
