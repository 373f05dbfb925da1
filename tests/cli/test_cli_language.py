"""The xmr CLI prints its worker and queue messages in the language chosen by --lang or LANG."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from xmr_tui.cli.main import app
from xmr_tui.i18n import set_language


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
