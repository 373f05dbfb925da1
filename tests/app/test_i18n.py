"""The message catalog: language choice, compiled .mo kept in step with the .po, coverage."""

from __future__ import annotations

import ast
import gettext
from pathlib import Path

import pytest

from engine.config import ConfigError, config_from_dict
from engine.data.problems import ProblemKind, ProblemLog
from xmr_tui.app.main import main as xmr_tui_main
from xmr_tui.i18n import LOCALE_DIR, _, language_from_env, set_language
from xmr_tui.i18n.catalog import build_mo, parse_po

PO_FILE = LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "xmr.po"
SOURCE_DIRS = [Path(__file__).resolve().parents[2] / name for name in ("xmr_tui", "engine")]


@pytest.mark.parametrize("environ, expected", [
    ({"LANG": "zh_CN.UTF-8"}, "zh"),
    ({"LANG": "en_US.UTF-8"}, "en"),
    ({"LC_ALL": "zh_TW.UTF-8", "LANG": "en_US.UTF-8"}, "zh"),
    ({"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}, "en"),
    ({"LC_MESSAGES": "zh_CN.UTF-8"}, "zh"),
    ({}, "en"),
])
def test_language_from_env(environ, expected):
    assert language_from_env(environ) == expected


def test_set_language_switches_messages():
    set_language("zh")
    assert _("Queue run") == "加入队列"
    set_language("en")
    assert _("Queue run") == "Queue run"


def test_set_language_rejects_unknown():
    with pytest.raises(ValueError, match="not supported"):
        set_language("fr")


def test_compiled_catalog_is_current():
    mo_file = PO_FILE.with_suffix(".mo")
    expected = build_mo(parse_po(PO_FILE.read_text(encoding="utf-8")))
    assert mo_file.read_bytes() == expected, "run `python -m xmr_tui.i18n.catalog` and commit xmr.mo"


def test_compiled_catalog_reads_with_gettext():
    with PO_FILE.with_suffix(".mo").open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)
    assert catalog.gettext("Compare") == "对比"
    assert catalog.gettext("R@1 stays") == "R@1 stays"


def marked_messages() -> set[str]:
    """Return every literal passed to ``_()`` or ``N_()`` in the modules of xmr_tui and the engine."""
    messages = set()
    for path in [path for folder in SOURCE_DIRS for path in folder.rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "N_")
                    and node.args and isinstance(node.args[0], ast.Constant)):
                messages.add(node.args[0].value)
    return messages


def test_every_marked_message_translated():
    translated = parse_po(PO_FILE.read_text(encoding="utf-8"))
    missing = sorted(marked_messages() - set(translated))
    assert not missing, f"add zh_CN translations to {PO_FILE.name}: {missing}"


def test_engine_config_error_in_chinese():
    set_language("zh")

    with pytest.raises(ConfigError) as raised:
        config_from_dict({"train": {"stepz": 3}})

    assert "未知的键 'train.stepz'" in str(raised.value)


def test_data_check_report_in_chinese():
    log = ProblemLog()
    log.add(ProblemKind.missing_image, "train_texts.jsonl", 3, "image 7 is not in the gallery")
    set_language("zh")

    lines = log.report_lines()

    assert lines[0] == "缺失图片: 1"


def test_dashboard_help_in_chinese(capsys):
    with pytest.raises(SystemExit) as exited:
        xmr_tui_main(["--lang", "zh", "--help"])

    assert exited.value.code == 0
    assert "显示此帮助并退出" in capsys.readouterr().out
