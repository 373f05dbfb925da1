"""Snapshot tests of every tab at 80×24 in English and Chinese, on fixed synthetic rows.

Update the baselines with ``pytest tests/app --snapshot-update`` after an intended change and
review the SVG diffs. Timestamps, the ETA clock and the store path are fixed, and the store is
read once (no timer), so the pictures do not change between runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from tests.app.rows import T0, add_points, add_run, metric_set
from xmr_tui.app.compare_tab import CompareTab
from xmr_tui.app.main import XmrApp
from xmr_tui.i18n import set_language
from xmr_tui.store.database import Store
from xmr_tui.store.models import RunStatus

SIZE = (80, 24)
TABS = {"compose": "f1", "queue": "f2", "live": "f3", "compare": "f4", "detail": "f5"}


def fill_store(path: Path) -> dict[str, int]:
    """Write one run in each state, curves for the running one and metrics for two finished ones."""
    store = Store(path)
    ids = {
        "a": add_run(store, "combo_a_offline", RunStatus.finished, steps_done=100, metrics=metric_set(10.0)).id,
        "d": add_run(store, "combo_d_offline", RunStatus.finished, steps_done=100, metrics=metric_set(20.0),
                     lr=5e-4).id,
        "running": add_run(store, "combo_d_offline", RunStatus.running, seed=1, learnable="shared").id,
        "failed": add_run(store, "combo_b_offline", RunStatus.failed, steps_done=40).id,
        "queued": add_run(store, "combo_c_offline", RunStatus.queued).id,
    }
    add_points(store, ids["running"], range(2, 62, 2), temperature=True)
    store.close()
    return ids


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("tab", list(TABS))
def test_tab_snapshot(tab, language, snap_compare, tmp_path, configs, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ids = fill_store(Path("experiments.db"))
    set_language(language)
    app = XmrApp(Path("experiments.db"), configs=configs, clock=lambda: T0.replace(minute=5),
                 refresh_seconds=None)

    async def prepare(pilot) -> None:  # type: ignore[no-untyped-def]
        for field in app.query(Input):
            field.cursor_blink = False
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.press(TABS[tab])
        if tab == "compare":
            app.query_one(CompareTab).select_runs([ids["a"], ids["d"]])
        if tab == "detail":
            app.show_detail(ids["d"])
        for _ in range(3):
            await pilot.pause()
            await app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=prepare)
