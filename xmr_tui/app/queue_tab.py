"""The Queue tab: every run with status, progress, ETA and attempt, with cancel, retry and worker status."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.worker import get_current_worker
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import DataTable, Static

from xmr_tui.app.data import eta_seconds, format_duration, load_runs
from xmr_tui.i18n import N_, _, translate_bindings
from xmr_tui.store.models import Run, RunStatus
from xmr_tui.store.queue import QueueStateError, cancel_run, retry_run
from xmr_tui.store.runs import RunNotFoundError
from xmr_tui.worker_pids import live_workers

STATUS_STYLES = {RunStatus.queued: "cyan", RunStatus.running: "bold yellow", RunStatus.finished: "green",
                 RunStatus.failed: "bold red", RunStatus.cancelled: "dim"}
STATUS_NAMES = {RunStatus.queued: N_("queued"), RunStatus.running: N_("running"),
                RunStatus.finished: N_("finished"), RunStatus.failed: N_("failed"),
                RunStatus.cancelled: N_("cancelled")}
COLUMNS = (N_("run"), N_("name"), N_("status"), N_("progress"), N_("ETA"), N_("attempt"))


def status_text(status: RunStatus) -> Text:
    return Text(_(STATUS_NAMES[status]), style=STATUS_STYLES[status])


class QueueTab(Widget):
    """The run table and the worker banner."""

    DEFAULT_CSS = """
    QueueTab { layout: vertical; }
    QueueTab #worker-banner { height: auto; padding: 0 1; background: $boost; }
    QueueTab #worker-banner.missing { color: $warning; }
    QueueTab #runs { height: 1fr; }
    """
    BINDINGS = [
        Binding("c", "cancel_run", N_("Cancel")),
        Binding("r", "retry_run", N_("Retry")),
        Binding("enter", "show_detail", N_("Detail")),
        Binding("w", "start_worker", N_("Start worker")),
    ]

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        translate_bindings(self)

    def compose(self) -> ComposeResult:
        yield Static(id="worker-banner", markup=False)
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        """Add the columns."""
        self.query_one(DataTable).add_columns(*[_(title) for title in COLUMNS])

    def selected_run_id(self) -> int | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        row_key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key
        return int(row_key.value)

    # --- loading ---------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="queue")
    def reload(self) -> None:
        """Read the runs and the live workers in a thread, then show them."""
        runs = load_runs(self.app.store)
        workers = live_workers(self.app.store.path)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show_runs, runs, workers)

    def show_runs(self, runs: list[Run], workers: list[dict]) -> None:
        table = self.query_one(DataTable)
        selected = self.selected_run_id()
        now = self.app.clock()
        table.clear()
        for run in reversed(runs):
            progress = f"{run.steps_done}/{run.steps_total}"
            table.add_row(str(run.id), run.name, status_text(run.status), progress,
                          format_duration(eta_seconds(run, now)), f"{run.attempt}/{run.max_attempts}",
                          key=str(run.id))
        if selected is not None and str(selected) in table.rows:
            table.move_cursor(row=table.get_row_index(str(selected)))
        self.show_workers(workers, runs)

    def show_workers(self, workers: list[dict], runs: list[Run]) -> None:
        banner = self.query_one("#worker-banner", Static)
        self.app.worker_count = len(workers)
        waiting = sum(run.status == RunStatus.queued for run in runs)
        if workers:
            pids = ", ".join(str(record["pid"]) for record in workers)
            banner.update(_("Workers running: pid {pids}. Queued runs: {count}.").format(pids=pids, count=waiting))
            banner.remove_class("missing")
        else:
            banner.update(_("No worker is running, so queued runs wait. Press w to start one in the "
                            "background (xmr worker --detach). Queued runs: {count}.").format(count=waiting))
            banner.add_class("missing")

    # --- actions ---------------------------------------------------------------------------------

    def action_cancel_run(self) -> None:
        """Cancel the selected queued or running run."""
        self.change_run(cancel_run, _("Cancelled run {id}"))

    def action_retry_run(self) -> None:
        """Queue the selected failed or cancelled run again."""
        self.change_run(retry_run, _("Queued run {id} again"))

    def action_show_detail(self) -> None:
        """Open the selected run in the Run detail tab."""
        run_id = self.selected_run_id()
        if run_id is not None:
            self.app.show_detail(run_id)

    def action_start_worker(self) -> None:
        """Start a detached worker for this store."""
        self.app.action_start_worker()

    def change_run(self, operation: Any, done_message: str) -> None:
        run_id = self.selected_run_id()
        if run_id is None:
            self.app.notify(_("Select a run first."), severity="warning")
            return
        self.apply_change(operation, run_id, done_message)

    @work(thread=True, group="queue-write")
    def apply_change(self, operation: Any, run_id: int, done_message: str) -> None:
        try:
            operation(self.app.store, run_id)
        except (QueueStateError, RunNotFoundError) as error:
            self.app.call_from_thread(self.app.show_error, _("The queue did not change"), str(error))
            return
        self.app.call_from_thread(self.app.notify, done_message.format(id=run_id))
        self.app.call_from_thread(self.app.refresh_store)

    @on(DataTable.RowSelected, "#runs")
    def on_run_selected(self, _event: DataTable.RowSelected) -> None:
        """Open the clicked run in the Run detail tab."""
        self.action_show_detail()
