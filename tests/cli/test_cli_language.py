"""The xmr CLI speaks the language chosen by --lang or the locale: help pages, messages, tables."""

from __future__ import annotations

import inspect

import pytest
import typer.core
import typer.main
import typer.rich_utils
from typer.testing import CliRunner

from tests.app.rows import add_run, metric_set
from tests.app.test_i18n import PO_FILE, marked_messages
from xmr_tui.cli import worker as worker_cli
from xmr_tui.cli.main import app
from xmr_tui.cli.translation import TYPER_MESSAGES, help_texts, with_break_points
from xmr_tui.i18n import language_in_args, set_language
from xmr_tui.i18n.catalog import parse_po
from xmr_tui.store.database import Store
from xmr_tui.store.models import RunStatus


@pytest.fixture(autouse=True)
def english_afterwards():
    yield
    set_language("en")


def test_worker_status_in_chinese(tmp_path):
    result = CliRunner().invoke(app, ["--lang", "zh", "worker", "status", "--db", str(tmp_path / "e.db")])
    assert result.exit_code == 0
    assert "没有正在运行的 worker" in result.output


def test_worker_status_follows_lang(tmp_path, monkeypatch):
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    result = CliRunner().invoke(app, ["worker", "status", "--db", str(tmp_path / "e.db")])
    assert "没有正在运行的 worker" in result.output


def test_lang_en_forces_english(tmp_path, monkeypatch):
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    result = CliRunner().invoke(app, ["--lang", "en", "worker", "status", "--db", str(tmp_path / "e.db")])
    assert "no workers are running" in result.output


def test_lang_rejects_unknown(tmp_path):
    result = CliRunner().invoke(app, ["--lang", "fr", "worker", "status", "--db", str(tmp_path / "e.db")])
    assert result.exit_code != 0
    assert "not supported" in result.output


# --- help pages and Typer's own words ------------------------------------------------------------

def test_help_in_chinese_with_lang_zh():
    result = CliRunner().invoke(app, ["--lang", "zh", "queue", "add", "--help"])

    assert result.exit_code == 0
    assert "将一个组合" in result.output  # the command's docstring
    assert "逗号分隔的种子" in result.output  # an option's help
    assert "选项" in result.output  # Typer's panel title
    assert "显示此帮助并退出" in result.output  # the help option


def test_root_help_follows_lang_environment(monkeypatch):
    monkeypatch.setenv("LC_ALL", "zh_CN.UTF-8")

    result = CliRunner().invoke(app, ["--help"])

    assert "中文图文检索的消融实验" in result.output
    assert "命令" in result.output


def test_help_english_after_chinese_call():
    CliRunner().invoke(app, ["--lang", "zh", "runs", "--help"])

    result = CliRunner().invoke(app, ["--lang", "en", "runs", "--help"])

    assert "List, show and compare stored runs." in result.output
    assert "Options" in result.output
    assert "Show this message and exit." in result.output


def test_every_help_text_has_a_translation():
    command = typer.main.get_command(app)
    translated = parse_po(PO_FILE.read_text(encoding="utf-8"))

    missing = sorted(help_texts(command) - set(translated))

    assert not missing, f"add zh_CN translations of these help texts to {PO_FILE.name}: {missing}"


def test_catalog_has_no_unused_messages():
    translated = set(parse_po(PO_FILE.read_text(encoding="utf-8")))

    unused = sorted(translated - {""} - marked_messages() - help_texts(typer.main.get_command(app)))  # "": the header

    assert not unused, f"remove these entries from {PO_FILE.name}: {unused}"


def test_typer_messages_are_spelled_as_in_typer():
    # A Typer upgrade that rewords one of these would silently leave it English.
    source = inspect.getsource(typer.core) + inspect.getsource(typer.rich_utils)

    missing = [message for message in TYPER_MESSAGES if f'"{message}"' not in source]

    assert not missing


def test_unknown_command_error_in_chinese():
    result = CliRunner().invoke(app, ["--lang", "zh", "nope"])

    assert result.exit_code != 0
    assert "没有命令 'nope'" in result.output


@pytest.mark.parametrize("args, expected", [
    (["--lang", "zh", "runs"], "zh"),
    (["--lang=en", "runs"], "en"),
    (["--lang", "fr", "runs"], None),
    (["runs", "--", "--lang", "zh"], None),
    (["runs", "list"], None),
])
def test_language_in_args(args, expected):
    assert language_in_args(args) == expected


def test_break_points_before_chinese_text():
    text = "组合名（如 a、b）或路径，每个种子一个运行，完成指定数量的运行后退出"

    assert with_break_points(text) == "组合名（如 a、b） 或路径， 每个种子一个运行， 完成指定数量的运行后退出"


def test_short_help_keeps_its_punctuation():
    assert with_break_points("构建、注册和检查数据集。") == "构建、注册和检查数据集。"


# --- messages and tables of runs, data and report ------------------------------------------------

def test_runs_list_table_in_chinese(tmp_path):
    store = Store(tmp_path / "e.db")
    add_run(store, "combo_a_offline", RunStatus.failed)
    store.close()

    result = CliRunner().invoke(app, ["--lang", "zh", "runs", "list", "--db", str(tmp_path / "e.db")])

    assert result.exit_code == 0, result.output
    assert "状态" in result.output
    assert "失败" in result.output
    assert "t2i R@1" in result.output  # field terms stay as they are


def test_data_error_in_chinese(tmp_path):
    result = CliRunner().invoke(app, ["--lang", "zh", "data", "check", str(tmp_path / "none"),
                                      "--db", str(tmp_path / "e.db")])

    assert result.exit_code == 1
    assert "既不是已注册的数据集，也不是文件夹" in result.output


def test_report_csv_stays_english(tmp_path):
    store = Store(tmp_path / "e.db")
    add_run(store, "combo_a_offline", RunStatus.finished, metrics=metric_set(10.0))
    store.close()
    db = ["--db", str(tmp_path / "e.db")]

    markdown = CliRunner().invoke(app, ["--lang", "zh", "report", "--format", "markdown", *db])
    csv = CliRunner().invoke(app, ["--lang", "zh", "report", "--format", "csv", *db])

    assert "| 运行 | 名称 | 种子 |" in markdown.output
    assert "指标为百分比" in markdown.output
    assert csv.output.startswith("runs,name,seeds,")


def test_detached_worker_inherits_language(tmp_path, monkeypatch):
    started = []

    class FakeProcess:
        pid = 4242
        returncode = None

        def poll(self):  # type: ignore[no-untyped-def]
            return None

    def fake_popen(command, **kwargs):  # type: ignore[no-untyped-def]
        started.append(command)
        return FakeProcess()

    monkeypatch.setattr(worker_cli.subprocess, "Popen", fake_popen)
    monkeypatch.setattr(worker_cli.time, "sleep", lambda seconds: None)

    result = CliRunner().invoke(app, ["--lang", "zh", "worker", "--detach", "--db", str(tmp_path / "e.db")])

    assert result.exit_code == 0, result.output
    assert started[0][3:5] == ["--lang", "zh"]
