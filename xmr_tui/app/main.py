"""``xmr-tui``: the Textual dashboard. Run ``xmr-tui [--db FILE]``.

This first screen lists the runs in the store with their status and headline metrics and
refreshes every few seconds; store reads run in a worker thread so the UI never blocks.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header

from xmr_tui.store import Store
from xmr_tui.store.runs import list_runs, metrics_by_run

COLUMNS = ("run", "name", "status", "steps", "t2i R@1", "t2i R@10", "i2t R@1", "i2t R@10", "MR")


class RunsApp(App):
    """Lists the store's runs; ``r`` refreshes, ``q`` quits."""

    TITLE = "xmr"
    BINDINGS = [("r", "refresh", "Refresh"), ("q", "quit", "Quit")]

    def __init__(self, db: Path | None = None) -> None:
        super().__init__()
        self.db = db

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        """Set up the table and start periodic refreshes."""
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.action_refresh()
        self.set_interval(3.0, self.action_refresh)

    def action_refresh(self) -> None:
        """Reload the runs from the store in a worker thread."""
        self.load_rows()

    @work(thread=True, exclusive=True)
    def load_rows(self) -> None:
        store = Store(self.db)
        try:
            runs = list_runs(store)
            metrics = metrics_by_run(store, [run.id for run in runs])
        finally:
            store.close()
        rows = [_row(run, metrics[run.id]) for run in runs]
        self.call_from_thread(self._show, rows)

    def _show(self, rows: list[tuple[str, ...]]) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for row in rows:
            table.add_row(*row)


def _row(run, metrics: dict[str, float]) -> tuple[str, ...]:
    def metric(key: str) -> str:
        return f"{metrics[key]:.2f}" if key in metrics else "–"

    return (str(run.id), run.name, run.status.value, f"{run.steps_done}/{run.steps_total}",
            metric("t2i/R@1"), metric("t2i/R@10"), metric("i2t/R@1"), metric("i2t/R@10"), metric("mean_recall"))


def main() -> None:
    parser = argparse.ArgumentParser(prog="xmr-tui", description="xmr dashboard")
    parser.add_argument("--db", type=Path, default=None, help="experiment store (default: $XMR_DB or ./experiments.db)")
    args = parser.parse_args()
    RunsApp(args.db).run()


if __name__ == "__main__":
    main()
