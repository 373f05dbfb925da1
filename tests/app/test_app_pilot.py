"""Pilot tests of xmr-tui on temporary stores filled with synthetic rows (no training)."""

from __future__ import annotations

import subprocess
from datetime import timedelta
import sys
from pathlib import Path

import pytest
from textual.command import CommandList
from textual.widgets import DataTable, Sparkline

from tests.app.conftest import REPO_CONFIGS
from tests.app.rows import T0, add_points, add_run, metric_set, stored_config
from xmr_tui.app.compare_tab import CompareTab
from xmr_tui.app.compose_tab import ComposeTab
from xmr_tui.app.errors import ErrorPanel
from xmr_tui.app.live_tab import LiveTab
from xmr_tui.app.main import XmrApp, main
from xmr_tui.i18n import set_language
from xmr_tui.store.models import RunEvent, RunStatus
from xmr_tui.store.runs import list_runs

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.anyio


def make_app(db_path: Path, configs: Path) -> XmrApp:
    return XmrApp(db_path, configs=configs, clock=lambda: T0, refresh_seconds=None)


async def settle(app: XmrApp, pilot) -> None:  # type: ignore[no-untyped-def]
    """Wait until every store read started so far has been shown."""
    for _ in range(3):
        await pilot.pause()
        await app.workers.wait_for_complete()
    await pilot.pause()


def compose_preset(configs: Path) -> tuple[Path, Path]:
    """Return (configs folder, preset): combo D's offline twin where present, else the learnable-τ demo."""
    # NOTE: where configs/ has no combo_d_offline.yaml, the demo preset with a learned temperature
    # exercises the same menus instead.
    twin = REPO_CONFIGS / "combo_d_offline.yaml"
    if twin.is_file():
        return REPO_CONFIGS, twin
    return configs, configs / "demo_learnable_temp.yaml"


async def test_compose_queues_fixed_temperature(db_path, store, configs):
    folder, preset = compose_preset(configs)
    app = make_app(db_path, folder)
    async with app.run_test(size=(100, 30)) as pilot:
        compose = app.query_one(ComposeTab)
        compose.load_preset(preset)
        await settle(app, pilot)
        compose.set_axis("similarity.learnable", "fixed")
        await settle(app, pilot)
        summary = str(app.query_one("#summary").render())
        assert "τ=learnable" not in summary
        assert "τ=" in summary

        await pilot.press("ctrl+t")
        await settle(app, pilot)

    runs = list_runs(store)
    assert len(runs) == 1
    assert runs[0].status == RunStatus.queued
    assert runs[0].name == preset.stem
    assert stored_config(runs[0])["similarity"]["learnable"] == "fixed"


async def test_compose_queues_seeds_with_steps(db_path, store, configs):
    app = make_app(db_path, configs)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        app.query_one("#seed-count").value = "3"
        app.query_one("#steps").value = "7"
        await settle(app, pilot)
        app.query_one(ComposeTab).action_queue_seeds()
        await settle(app, pilot)

    runs = list_runs(store)
    assert [run.seed for run in runs] == [0, 1, 2]
    assert [run.steps_total for run in runs] == [7, 7, 7]


async def test_compose_saves_combo_file(db_path, configs):
    app = make_app(db_path, configs)
    async with app.run_test(size=(100, 30)) as pilot:
        compose = app.query_one(ComposeTab)
        await settle(app, pilot)
        compose.set_axis("head.kind", "residual")
        app.query_one("#combo-name").value = "residual_heads"
        await settle(app, pilot)
        compose.action_save_combo()
        await settle(app, pilot)

    saved = (configs / "residual_heads.yaml").read_text()
    assert "extends: demo_baseline.yaml" in saved
    assert "kind: residual" in saved


async def test_queue_cancels_selected_run(db_path, store, configs):
    add_run(store, "waiting", RunStatus.queued)
    app = make_app(db_path, configs)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("f2")
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        table = app.query_one("#runs", DataTable)
        status_cell = str(table.get_row_at(0)[2])

    assert list_runs(store)[0].status == RunStatus.cancelled
    assert status_cell == "cancelled"


async def test_queue_retries_cancelled_run(db_path, store, configs):
    add_run(store, "stopped", RunStatus.cancelled)
    app = make_app(db_path, configs)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("f2")
        await settle(app, pilot)
        await pilot.press("r")
        await settle(app, pilot)

    assert list_runs(store)[0].status == RunStatus.queued


async def test_compare_table_values_two_runs(db_path, store, configs):
    first = add_run(store, "combo_a_offline", RunStatus.finished, metrics=metric_set(10.0))
    second = add_run(store, "combo_d_offline", RunStatus.finished, metrics=metric_set(20.0), lr=5e-4)
    app = make_app(db_path, configs)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("f4")
        await settle(app, pilot)
        app.query_one(CompareTab).select_runs([first.id, second.id])
        await settle(app, pilot)
        table = app.query_one("#compare-table", DataTable)
        rows = [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]
        diff = str(app.query_one("#compare-diff").render())

    # Sorted by t2i R@1, best first: the second run leads.
    assert rows[0][:5] == [str(second.id), "combo_d_offline", "20.00", "21.00", "22.00"]
    assert rows[1][:5] == [str(first.id), "combo_a_offline", "10.00", "11.00", "12.00"]
    assert rows[0][8] == "26.00"
    assert rows[1][11] == "0.500"
    assert "optim.lr: 0.001 | 0.0005" in diff


async def test_compare_defaults_to_all_finished(db_path, store, configs):
    first = add_run(store, "combo_a_offline", RunStatus.finished, metrics=metric_set(10.0))
    add_run(store, "still_queued", RunStatus.queued)
    app = make_app(db_path, configs)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        table = app.query_one("#compare-table", DataTable)
        shown_at_start = [str(table.get_row_at(index)[0]) for index in range(table.row_count)]
        second = add_run(store, "combo_d_offline", RunStatus.finished, metrics=metric_set(20.0), lr=5e-4)
        app.refresh_store()
        await settle(app, pilot)
        shown_after_finish = sorted(str(table.get_row_at(index)[0]) for index in range(table.row_count))
        app.query_one(CompareTab).select_runs([second.id])
        await settle(app, pilot)
        add_run(store, "combo_e_offline", RunStatus.finished, metrics=metric_set(5.0), lr=2e-4)
        app.refresh_store()
        await settle(app, pilot)
        shown_after_ticking = [str(table.get_row_at(index)[0]) for index in range(table.row_count)]

    assert shown_at_start == [str(first.id)]
    assert shown_after_finish == sorted([str(first.id), str(second.id)])
    assert shown_after_ticking == [str(second.id)]


async def test_compare_mean_std_over_seeds(db_path, store, configs):
    ids = [add_run(store, "seeded", RunStatus.finished, seed=seed, metrics={"t2i/R@1": value}).id
           for seed, value in ((0, 10.0), (1, 14.0))]
    app = make_app(db_path, configs)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        app.query_one(CompareTab).select_runs(ids)
        await settle(app, pilot)
        row = [str(cell) for cell in app.query_one("#compare-table", DataTable).get_row_at(0)]

    assert row[0] == f"{ids[0]},{ids[1]}"
    assert row[2] == "12.00±2.83"


async def test_compare_exports_markdown(db_path, store, configs):
    run = add_run(store, "exported", RunStatus.finished, metrics=metric_set(30.0))
    app = make_app(db_path, configs)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        app.query_one(CompareTab).select_runs([run.id])
        await settle(app, pilot)
        app.query_one(CompareTab).action_export()

    exported = (db_path.parent / f"compare-runs-{run.id}.md").read_text()
    assert "| run | name |" in exported
    assert "30.00" in exported


WRITER = """
import sys
from tests.app.rows import add_points
from xmr_tui.store.database import Store
store = Store(sys.argv[1])
add_points(store, int(sys.argv[2]), range(int(sys.argv[3]), int(sys.argv[4])), temperature=True)
store.close()
"""


def write_points_elsewhere(db_path: Path, run_id: int, start: int, stop: int) -> None:
    """Write curve points from a separate Python process, as a worker would."""
    subprocess.run([sys.executable, "-c", WRITER, str(db_path), str(run_id), str(start), str(stop)],
                   cwd=REPO_ROOT, check=True, timeout=120)


async def test_live_shows_event_before_first_step(db_path, store, configs):
    run = add_run(store, "encoding", RunStatus.running)
    with store.write() as session:
        session.add(RunEvent(run_id=run.id, created_at=T0 - timedelta(seconds=125), level="info",
                             message="frozen extractors: encoding the features"))
    app = make_app(db_path, configs)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        await settle(app, pilot)
        status = str(app.query_one("#live-status").render())

    assert "step 0/100" in status
    assert "frozen extractors: encoding the features (2:05 ago)" in status


async def test_live_reads_other_process_steps(db_path, store, configs):
    run = add_run(store, "training", RunStatus.running, learnable="shared")
    app = make_app(db_path, configs)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("f3")
        write_points_elsewhere(db_path, run.id, 1, 6)
        app.refresh_store()
        await settle(app, pilot)
        live = app.query_one(LiveTab)
        first_count = len(live.curves[run.id].loss)
        first_last_id = live.curves[run.id].last_id

        write_points_elsewhere(db_path, run.id, 6, 11)
        app.refresh_store()
        await settle(app, pilot)
        curves = live.curves[run.id]
        status = str(app.query_one("#live-status").render())
        sparkline_points = len(app.query_one("#curve-loss", Sparkline).data)
        temperature_shown = app.query_one("#curve-temperature-box").display

    assert first_count == 5
    assert curves.steps == list(range(1, 11))
    assert curves.last_id > first_last_id
    assert sparkline_points == 10
    assert "step 10/100" in status
    assert "500 samples/s" in status
    assert temperature_shown


async def test_save_error_shows_panel(db_path, configs):
    app = make_app(db_path, configs)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        app.query_one("#combo-name").value = "demo_learnable_temp"
        app.query_one(ComposeTab).action_save_combo()
        await settle(app, pilot)
        panel = app.screen
        message = str(panel.query_one("#error-message").render())
        await pilot.press("escape")
        await settle(app, pilot)
        closed = not isinstance(app.screen, ErrorPanel)

    assert isinstance(panel, ErrorPanel)
    assert "already exists" in message
    assert closed


def test_main_reports_unreadable_store(tmp_path, capsys):
    broken = tmp_path / "broken.db"
    broken.write_text("not a database")
    with pytest.raises(SystemExit) as raised:
        main(["--db", str(broken)])
    assert raised.value.code == 1
    assert "cannot open the store" in capsys.readouterr().err


async def test_compose_keeps_unregistered_backbone(db_path, store, configs):
    preset = configs / "hf_backbone.yaml"
    preset.write_text("extends: demo_baseline.yaml\ntext: {backbone: bert-base-chinese}\n")
    app = make_app(db_path, configs)
    async with app.run_test(size=(100, 30)) as pilot:
        compose = app.query_one(ComposeTab)
        compose.load_preset(preset)
        await settle(app, pilot)
        shown = app.query_one("#axis-text-backbone").value
        summary = str(app.query_one("#summary").render())

    assert shown == "bert-base-chinese"
    assert "text=bert-base-chinese" in summary


async def test_palette_finds_english_words_in_chinese(db_path, store, configs):
    set_language("zh")
    app = make_app(db_path, configs)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"export")
        await pilot.pause(0.5)
        commands = app.screen.query_one(CommandList)
        prompts = [str(commands.get_option_at_index(index).prompt) for index in range(commands.option_count)]

    assert any("导出 Markdown" in prompt for prompt in prompts)


async def test_compose_starts_on_offline_preset(db_path, store):
    app = make_app(db_path, REPO_CONFIGS)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        preset = app.query_one(ComposeTab).composition.preset

    assert preset.stem == "demo_baseline"


async def test_steps_box_survives_preset_change(db_path, store, configs):
    app = make_app(db_path, configs)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        compose = app.query_one(ComposeTab)
        app.query_one("#steps").value = "20"
        await settle(app, pilot)
        compose.load_preset(configs / "demo_learnable_temp.yaml")
        await settle(app, pilot)
        config = compose.composition.build()

    assert config.train.steps == 20
