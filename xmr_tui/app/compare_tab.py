"""The Compare tab: metrics of the selected finished runs side by side, with their config diff.

Runs of one config that differ only in the seed form one row with mean ± std. The best value
of each column is highlighted. Clicking a column header (or pressing s) sorts by it. Pressing e
exports the table to markdown with ``xmr_tui.report.to_markdown``.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.worker import get_current_worker
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import DataTable, SelectionList, Static
from textual.widgets.data_table import ColumnKey

from xmr_tui.app.data import config_diff, load_compare, load_runs
from xmr_tui.i18n import N_, _, translate_bindings
from xmr_tui.report import Column, ReportGroup, best_values, to_markdown
from xmr_tui.store.models import Run, RunStatus

COMPARE_COLUMNS = [
    Column("t2i R@1", "t2i/R@1"), Column("t2i R@5", "t2i/R@5"), Column("t2i R@10", "t2i/R@10"),
    Column("i2t R@1", "i2t/R@1"), Column("i2t R@5", "i2t/R@5"), Column("i2t R@10", "i2t/R@10"),
    Column("MR", "mean_recall"), Column("mAP", "t2i/mAP"), Column("NDCG@10", "t2i/NDCG@10"),
    # Query latency: the median time to search one text query against the image index.
    Column("t2i p50 ms", "t2i/latency_p50_ms", higher_is_better=False, digits=3),
]


def cell_text(group: ReportGroup, column: Column) -> str:
    stat = group.stat(column.key)
    if stat is None:
        return "–"
    text = f"{stat.mean:.{column.digits}f}"
    return text if stat.std is None else f"{text}±{stat.std:.{column.digits}f}"


def sort_value(group: ReportGroup, column: Column) -> float:
    stat = group.stat(column.key)
    if stat is None:
        return float("inf")
    return -stat.mean if column.higher_is_better else stat.mean


class CompareTab(Widget):
    """Finished runs to tick, their metric table and the config keys on which they differ."""

    DEFAULT_CSS = """
    CompareTab { layout: vertical; }
    CompareTab #compare-runs { height: 6; border: none; }
    CompareTab #compare-table { height: 1fr; min-height: 5; }
    CompareTab #compare-diff-box { height: auto; max-height: 7; }
    CompareTab #compare-diff { height: auto; padding: 0 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("s", "sort_next", N_("Sort")),
        Binding("e", "export", N_("Export markdown")),
        Binding("d", "show_detail", N_("Detail")),
    ]

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        translate_bindings(self)
        self.finished: list[Run] = []
        self.groups: list[ReportGroup] = []
        self.sort_column = 0
        # Until the user ticks or unticks a run, every finished run is compared, as in `xmr report`.
        self.follow_all = True

    def compose(self) -> ComposeResult:
        yield SelectionList[int](id="compare-runs")
        yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
        # Scrolls, because runs of two different combos can differ in more keys than fit.
        with VerticalScroll(id="compare-diff-box"):
            yield Static(id="compare-diff", markup=False)

    def on_mount(self) -> None:
        """Add the columns."""
        table = self.query_one("#compare-table", DataTable)
        table.add_column(_("runs"), key="runs")
        table.add_column(_("name"), key="name")
        for column in COMPARE_COLUMNS:
            # Two spaces keep room in the column width for the sort marker " ▼".
            table.add_column(_(column.title) + "  ", key=column.key)

    # --- loading ---------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="compare-list")
    def reload(self) -> None:
        """Read the finished runs in a thread and offer them for selection."""
        finished = [run for run in load_runs(self.app.store) if run.status == RunStatus.finished]
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show_finished, finished)

    def show_finished(self, finished: list[Run]) -> None:
        if [run.id for run in finished] == [run.id for run in self.finished]:
            return
        self.finished = finished
        selection = self.query_one(SelectionList)
        chosen = {run.id for run in finished} if self.follow_all else set(selection.selected)
        with self.prevent(SelectionList.SelectedChanged):
            selection.clear_options()
            for run in finished:
                selection.add_option((f"{run.id}  {run.name}  seed={run.seed}", run.id, run.id in chosen))
        if finished and selection.highlighted is None:
            selection.highlighted = 0  # so that the first Space ticks a run
        if self.follow_all:
            self.load_table(sorted(chosen))

    def select_runs(self, run_ids: list[int]) -> None:
        """Tick exactly ``run_ids`` in the run list (the table follows)."""
        selection = self.query_one(SelectionList)
        selection.deselect_all()
        for run_id in run_ids:
            selection.select(run_id)

    @on(SelectionList.SelectedChanged)
    def on_selection_changed(self) -> None:
        """Compare the ticked runs. From now on, newly finished runs are not ticked on their own."""
        self.follow_all = False
        self.load_table(list(self.query_one(SelectionList).selected))

    @work(thread=True, exclusive=True, group="compare-table")
    def load_table(self, run_ids: list[int]) -> None:
        groups = load_compare(self.app.store, sorted(run_ids)) if run_ids else []
        runs = [row.run for group in groups for row in group.rows]
        diff = config_diff(runs)
        # An exclusive thread worker is only marked cancelled, not stopped, when a newer selection
        # starts one, so a stale read must not overwrite the newer table.
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show_table, groups, diff, [run.id for run in runs])

    def show_table(self, groups: list[ReportGroup], diff: list, run_ids: list[int] | None = None) -> None:
        self.groups = groups
        self.draw_table()
        lines = [f"{key}: " + " | ".join(json.dumps(value, ensure_ascii=False) for value in values)
                 for key, values in diff if key not in ("name", "train.seed")]
        header = (_("Config differences ({count} keys)").format(count=len(lines)) if lines else
                  _("The selected runs have the same config apart from name and seed."))
        if lines and run_ids:
            # The values below follow this run order, which differs from the table's sort order.
            header += "\n" + _("runs: {ids}").format(ids=" | ".join(map(str, run_ids)))
        self.query_one("#compare-diff", Static).update("\n".join([header, *lines]) if groups else "")

    def draw_table(self) -> None:
        table = self.query_one("#compare-table", DataTable)
        table.clear()
        column = COMPARE_COLUMNS[self.sort_column]
        for each in COMPARE_COLUMNS:
            marker = " ▼" if each is column else "  "
            table.columns[ColumnKey(each.key)].label = Text(_(each.title) + marker)
        best = best_values_of(self.groups)
        for group in sorted(self.groups, key=lambda group: sort_value(group, column)):
            cells = [group.label, group.name]
            for each in COMPARE_COLUMNS:
                text = cell_text(group, each)
                stat = group.stat(each.key)
                is_best = len(self.groups) > 1 and stat is not None and best.get(each.key) == stat.mean
                cells.append(Text(text, style="bold green") if is_best else text)
            table.add_row(*cells, key=group.label)

    # --- actions ---------------------------------------------------------------------------------

    def action_sort_next(self) -> None:
        """Sort the table by the next metric column."""
        self.sort_column = (self.sort_column + 1) % len(COMPARE_COLUMNS)
        self.draw_table()
        self.app.notify(_("Sorted by {column}").format(column=_(COMPARE_COLUMNS[self.sort_column].title)))

    @on(DataTable.HeaderSelected, "#compare-table")
    def on_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """Sort by the clicked metric column."""
        keys = [column.key for column in COMPARE_COLUMNS]
        if event.column_key.value in keys:
            self.sort_column = keys.index(event.column_key.value)
            self.draw_table()

    def action_export(self) -> None:
        """Write the table as markdown beside the store."""
        if not self.groups:
            self.app.notify(_("Tick at least one finished run to export."), severity="warning")
            return
        ids = "-".join(str(run_id) for group in self.groups for run_id in group.run_ids)
        path = Path(self.app.store.path).resolve().parent / f"compare-runs-{ids}.md"
        path.write_text(to_markdown(self.groups) + "\n", encoding="utf-8")
        self.app.notify(_("Exported the table to {path}").format(path=path))

    def action_show_detail(self) -> None:
        """Open the first run of the highlighted row in the Run detail tab."""
        table = self.query_one("#compare-table", DataTable)
        if table.row_count:
            label = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
            self.app.show_detail(int(str(label).split(",")[0]))


def best_values_of(groups: list[ReportGroup]) -> dict[str, float]:
    """Return the best mean of each compare column over ``groups``."""
    return best_values(groups, COMPARE_COLUMNS)
