"""The Run detail tab: one run's resolved config, metrics, events and checkpoint path."""

from __future__ import annotations

import json

import yaml
from textual import work
from textual.worker import get_current_worker
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from xmr_tui.app.data import RunDetail, load_detail
from xmr_tui.i18n import _


def detail_text(detail: RunDetail) -> str:
    """Return the detail of one run as plain text, section by section."""
    run = detail.run
    lines = [_("Run {id}: {name} ({status}, attempt {attempt}/{max})").format(
        id=run.id, name=run.name, status=_(run.status.value), attempt=run.attempt, max=run.max_attempts),
        run.summary]
    if run.error:
        lines.append(_("Error: {error}").format(error=run.error))
    checkpoint = detail.checkpoints[-1].path if detail.checkpoints else _("none")
    lines += ["", _("Checkpoint: {path}").format(path=checkpoint), "", _("Metrics")]
    lines += [f"  {name}: {value:.6g}" for name, value in sorted(detail.metrics.items())] or ["  –"]
    lines += ["", _("Events")]
    lines += [f"  {moment:%Y-%m-%d %H:%M:%S} {level}: {message}" for moment, level, message in detail.events]
    config = yaml.safe_dump(json.loads(run.config_json), allow_unicode=True, sort_keys=False)
    lines += ["", _("Resolved config"), *("  " + line for line in config.splitlines())]
    return "\n".join(lines)


class DetailTab(Widget):
    """A scrollable text view of the run chosen in the Queue or Compare tab."""

    DEFAULT_CSS = """
    DetailTab VerticalScroll { height: 1fr; }
    DetailTab #detail { padding: 0 1; }
    """

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.run_id: int | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(_("Choose a run in the Queue tab (Enter) to see its detail."), id="detail", markup=False)

    def show_run(self, run_id: int) -> None:
        self.run_id = run_id
        self.reload()

    @work(thread=True, exclusive=True, group="detail")
    def reload(self) -> None:
        """Read the chosen run's detail in a thread."""
        if self.run_id is None:
            return
        detail = load_detail(self.app.store, self.run_id)
        text = detail_text(detail) if detail else _("Run {id} is not in the store.").format(id=self.run_id)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.query_one("#detail", Static).update, text)
