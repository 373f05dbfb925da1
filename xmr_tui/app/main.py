"""``xmr-tui``: the Textual dashboard. Run ``xmr-tui [--db FILE] [--lang en|zh]``.

Five tabs (Compose, Queue, Live, Compare, Run detail), each in its own module. The dashboard
never trains: it queues runs in the store and reads back what the worker writes. Store reads
run in thread workers on a timer, so the interface stays responsive while a worker trains.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from sqlalchemy.exc import SQLAlchemyError
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette
from textual.screen import Screen
from textual.theme import ThemeProvider
from textual.widgets import Footer, Header, TabbedContent, TabPane

from xmr_tui.app.commands import XmrCommands
from xmr_tui.app.compare_tab import CompareTab
from xmr_tui.app.compose_tab import ComposeTab
from xmr_tui.app.data import Clock, start_detached_worker
from xmr_tui.app.detail_tab import DetailTab
from xmr_tui.app.errors import ErrorPanel, WorkerStartError
from xmr_tui.app.live_tab import LiveTab
from xmr_tui.app.queue_tab import QueueTab
from xmr_tui.i18n import LANGUAGES, N_, _, current_language, language_in_args, set_language, translate_bindings
from xmr_tui.store import Store
from xmr_tui.store.database import default_db_path
from xmr_tui.store.migrations import SchemaTooNewError

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class XmrApp(App):
    """The dashboard over one experiment store."""

    TITLE = "xmr"
    AUTO_FOCUS = None  # the active tab focuses its first control (on_tabbed_content_tab_activated)
    CSS_PATH = "main.tcss"
    COMMANDS = App.COMMANDS | {XmrCommands}
    BINDINGS = [
        # Function keys switch tabs even while a menu or text box has focus (they type nothing).
        Binding("f1", "show_tab('compose')", N_("Compose"), show=False, priority=True),
        Binding("f2", "show_tab('queue')", N_("Queue"), show=False, priority=True),
        Binding("f3", "show_tab('live')", N_("Live"), show=False, priority=True),
        Binding("f4", "show_tab('compare')", N_("Compare"), show=False, priority=True),
        Binding("f5", "show_tab('detail')", N_("Run detail"), show=False, priority=True),
        Binding("ctrl+r", "refresh_store", N_("Refresh")),
        Binding("ctrl+q", "quit", N_("Quit")),
        # Declared here, not left to Textual, so that its footer label is translated too.
        Binding("ctrl+p", "command_palette", N_("palette"), show=False, priority=True),
    ]
    # Textual's own palette entries, which get_system_commands translates by title.
    SYSTEM_COMMAND_TEXTS = (
        N_("Theme"), N_("Change the current theme"), N_("Quit"), N_("Quit the application as soon as possible"),
        N_("Keys"), N_("Hide the keys and widget help panel"),
        N_("Show help for the focused widget and a summary of available keys"),
        N_("Minimize"), N_("Minimize the widget and restore to normal size"), N_("Maximize"),
        N_("Maximize the focused widget"), N_("Screenshot"), N_("Save an SVG 'screenshot' of the current screen"),
    )

    def __init__(self, db: Path | None = None, *, configs: Path | None = None, clock: Clock = utc_now,
                 refresh_seconds: float | None = 2.0) -> None:
        super().__init__()
        translate_bindings(self)
        self.store = Store(db)
        self.configs = configs
        self.clock = clock
        self.refresh_seconds = refresh_seconds
        self.worker_count: int | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(id="tabs"):
            with TabPane(f"F1 {_('Compose')}", id="compose"):
                yield ComposeTab(self.configs)
            with TabPane(f"F2 {_('Queue')}", id="queue"):
                yield QueueTab()
            with TabPane(f"F3 {_('Live')}", id="live"):
                yield LiveTab()
            with TabPane(f"F4 {_('Compare')}", id="compare"):
                yield CompareTab()
            with TabPane(f"F5 {_('Run detail')}", id="detail"):
                yield DetailTab()
        yield Footer()

    def on_mount(self) -> None:
        """Load the store once and then on a timer."""
        self.sub_title = str(self.store.path)
        self.refresh_store()
        if self.refresh_seconds:
            self.set_interval(self.refresh_seconds, self.refresh_store)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """Focus the first control of the new tab, so its key bindings show in the footer."""
        if event.pane.id != self.query_one(TabbedContent).active:
            return  # a late event of a tab that is no longer shown
        focusable = [widget for widget in event.pane.query("*") if widget.focusable]
        if focusable:
            focusable[0].focus()

    def on_unmount(self) -> None:
        """Close the store's connections."""
        self.store.close()

    def refresh_store(self) -> None:
        """Start the store reads of every tab (each in its own thread worker)."""
        self.query_one(QueueTab).reload()
        self.query_one(LiveTab).reload()
        self.query_one(CompareTab).reload()
        self.query_one(DetailTab).reload()

    # --- actions -----------------------------------------------------------------------------

    def action_show_tab(self, tab: str) -> None:
        """Switch to ``tab``."""
        self.query_one(TabbedContent).active = tab

    def action_refresh_store(self) -> None:
        """Read the store now."""
        self.refresh_store()

    def action_start_worker(self) -> None:
        """Start ``xmr worker --detach`` for this store."""
        self.notify(_("Starting a background worker…"))
        self.start_worker()

    @work(thread=True, exclusive=True, group="start-worker")
    def start_worker(self) -> None:
        result = start_detached_worker(self.store.path, current_language())
        if result.returncode != 0:
            output = (result.stderr or result.stdout).strip() or f"exit status {result.returncode}"
            error = WorkerStartError(output, _("Run `xmr worker --detach --db {db}` in a shell to see the full "
                                               "output.").format(db=self.store.path))
            self.call_from_thread(self.show_error, _("The worker did not start"), str(error), error.hint)
            return
        self.call_from_thread(self.notify, result.stdout.strip() or _("Worker started."))
        self.call_from_thread(self.refresh_store)

    def show_detail(self, run_id: int) -> None:
        """Open ``run_id`` in the Run detail tab."""
        self.query_one(DetailTab).show_run(run_id)
        self.action_show_tab("detail")

    def show_error(self, title: str, message: str, hint: str = "") -> None:
        """Show one error panel with what failed and what to do next."""
        log.warning("%s: %s", title, message)
        self.push_screen(ErrorPanel(title, message, hint))

    def action_command_palette(self) -> None:
        """Open the command palette with a translated prompt."""
        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(CommandPalette(placeholder=_("Search for commands…"), id="--command-palette"))

    def search_themes(self) -> None:
        """Open the theme picker with a translated prompt."""
        self.push_screen(CommandPalette(providers=[ThemeProvider], placeholder=_("Search for themes…")))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Yield Textual's palette entries (theme, keys, screenshot, quit) in the current language."""
        for command in super().get_system_commands(screen):
            yield command._replace(title=_(command.title), help=_(command.help))

    def palette_actions(self) -> list[tuple[str, str, Callable[[], object]]]:
        """Return (title, help, callback) of every action, for the command palette.

        Titles are English msgids, which the palette shows translated and also matches in English.
        """
        compose, queue, compare = self.query_one(ComposeTab), self.query_one(QueueTab), self.query_one(CompareTab)
        actions: list[tuple[str, str, Callable[[], object]]] = [
            (N_("Go to Compose"), N_("Switch tab"), lambda: self.action_show_tab("compose")),
            (N_("Go to Queue"), N_("Switch tab"), lambda: self.action_show_tab("queue")),
            (N_("Go to Live"), N_("Switch tab"), lambda: self.action_show_tab("live")),
            (N_("Go to Compare"), N_("Switch tab"), lambda: self.action_show_tab("compare")),
            (N_("Go to Run detail"), N_("Switch tab"), lambda: self.action_show_tab("detail")),
            (N_("Queue run"), N_("Queue one run of the composition"), compose.action_queue_run),
            (N_("Queue seeds"), N_("Queue one run per seed"), compose.action_queue_seeds),
            (N_("Save combo"), N_("Save the composition under configs/"), compose.action_save_combo),
            (N_("Cancel run"), N_("Cancel the run selected in the Queue tab"), queue.action_cancel_run),
            (N_("Retry run"), N_("Queue the selected failed or cancelled run again"), queue.action_retry_run),
            (N_("Start worker"), N_("Start xmr worker --detach for this store"), self.action_start_worker),
            (N_("Sort"), N_("Sort the compare table by the next column"), compare.action_sort_next),
            (N_("Export markdown"), N_("Write the compare table to a markdown file"), compare.action_export),
            (N_("Refresh"), N_("Read the store now"), self.action_refresh_store),
        ]
        return actions


class TranslatedHelpFormatter(argparse.HelpFormatter):
    """argparse's help layout with the ``usage:`` prefix in the current language."""

    def add_usage(self, usage, actions, groups, prefix=None):  # type: ignore[no-untyped-def]
        super().add_usage(usage, actions, groups, _("usage: ") if prefix is None else prefix)


def build_parser() -> argparse.ArgumentParser:
    """Return the ``xmr-tui`` argument parser, with its help in the current language."""
    parser = argparse.ArgumentParser(prog="xmr-tui", description=_("xmr dashboard: compose, queue, watch and "
                                                                   "compare runs"),
                                     add_help=False, formatter_class=TranslatedHelpFormatter)
    options = parser.add_argument_group(_("options"))
    options.add_argument("-h", "--help", action="help", help=_("show this help message and exit"))
    options.add_argument("--db", type=Path, default=None,
                         help=_("experiment store (default: $XMR_DB or ./experiments.db)"))
    options.add_argument("--lang", choices=LANGUAGES, default=None,
                         help=_("interface language (default: from LC_ALL, LC_MESSAGES or LANG)"))
    return parser


def main(argv: list[str] | None = None) -> None:
    """Parse ``--db`` and ``--lang`` and run the dashboard."""
    argv = sys.argv[1:] if argv is None else argv
    set_language(language_in_args(argv))  # before the parser, so that --help is translated too
    args = build_parser().parse_args(argv)
    set_language(args.lang)
    try:
        app = XmrApp(args.db)
    except (SchemaTooNewError, SQLAlchemyError, OSError) as error:
        reason = str(error).strip().splitlines()[0]
        print(_("error: cannot open the store {path}: {error}; choose another file with --db").format(
            path=args.db or default_db_path(), error=reason), file=sys.stderr)
        raise SystemExit(1) from None
    app.run()


if __name__ == "__main__":
    main()
