"""The Live tab: loss, LR and temperature curves of a running run, read while a worker trains.

The curves are Textual's built-in ``Sparkline`` widgets: they need no extra dependency, fit in
one or two terminal rows at 80×24 and redraw cheaply on every refresh. Exact values (last,
minimum, maximum) are printed beside each curve because a sparkline has no axis.
Each refresh reads only the StepMetric rows with an id above the last one already shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from textual import on, work
from textual.worker import get_current_worker
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Label, Select, Sparkline, Static

from xmr_tui.app.data import format_duration, latest_event, load_runs, naive_utc, new_step_metrics
from xmr_tui.i18n import _
from xmr_tui.store.models import Run, RunEvent, RunStatus, StepMetric


@dataclass
class Curves:
    """The curve points of one run read so far, and the id of the last StepMetric row read."""

    last_id: int = 0
    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    temperature: list[float] = field(default_factory=list)
    samples_per_s: float | None = None

    def extend(self, points: list[StepMetric]) -> None:
        for point in points:
            if (point.id or 0) <= self.last_id:
                continue  # already read by an overlapping refresh
            self.last_id = point.id or 0
            self.steps.append(point.step)
            self.loss.append(point.loss)
            self.lr.append(point.lr)
            if point.temperature is not None:
                self.temperature.append(point.temperature)
            self.samples_per_s = point.samples_per_s


def describe(values: list[float], digits: str) -> str:
    if not values:
        return "–"
    return _("last {last} · min {low} · max {high}").format(
        last=format(values[-1], digits), low=format(min(values), digits), high=format(max(values), digits))


def curve_title(curve: str, values: str) -> str:
    return _("{curve}: {values}").format(curve=curve, values=values)


def temperature_learned(run: Run) -> bool:
    """Return whether the run learns τ (a fixed τ is logged too, as a flat curve of no interest)."""
    return json.loads(run.config_json).get("similarity", {}).get("learnable", "fixed") != "fixed"


class LiveTab(Widget):
    """Curves of the chosen running run, with its step and throughput."""

    DEFAULT_CSS = """
    LiveTab { layout: vertical; }
    LiveTab #live-run { width: 1fr; }
    LiveTab #live-status { height: auto; padding: 0 1; }
    LiveTab .curve-title { padding: 0 1; color: $text-muted; }
    LiveTab Sparkline { height: 3; margin: 0 1; }
    LiveTab #curve-temperature-box { height: auto; }
    LiveTab #curve-temperature-box.hidden { display: none; }
    """

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.curves: dict[int, Curves] = {}
        self.run_id: int | None = None
        self.runs: dict[int, Run] = {}

    def compose(self) -> ComposeResult:
        yield Select([], id="live-run", prompt=_("no running run"), compact=True)
        yield Static(id="live-status", markup=False)
        yield Label(_("loss"), id="loss-title", classes="curve-title")
        yield Sparkline([], id="curve-loss")
        yield Label(_("learning rate"), id="lr-title", classes="curve-title")
        yield Sparkline([], id="curve-lr")
        with Vertical(id="curve-temperature-box", classes="hidden"):
            yield Label(_("temperature τ"), id="temperature-title", classes="curve-title")
            yield Sparkline([], id="curve-temperature")

    @work(thread=True, exclusive=True, group="live")
    def reload(self) -> None:
        """Read the running runs and the new curve points of the shown run in a thread."""
        runs = [run for run in load_runs(self.app.store) if run.status == RunStatus.running]
        run_id = self.run_id
        if run_id is None or run_id not in {run.id for run in runs}:
            run_id = runs[0].id if runs else self.run_id
        points: list[StepMetric] = []
        event = None
        if run_id is not None:
            after = self.curves.get(run_id, Curves()).last_id
            points = new_step_metrics(self.app.store, run_id, after)
            event = latest_event(self.app.store, run_id)
        # A cancelled (superseded) read must not append its points: the newer read has them too.
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show, runs, run_id, points, event)

    def show(self, runs: list[Run], run_id: int | None, points: list[StepMetric],
             event: RunEvent | None = None) -> None:
        self.runs.update({run.id: run for run in runs})
        select = self.query_one("#live-run", Select)
        options = [(f"{run.id} {run.name}", run.id) for run in runs]
        if run_id is not None and run_id not in {run.id for run in runs} and run_id in self.runs:
            options.append((f"{run_id} {self.runs[run_id].name}", run_id))
        with self.prevent(Select.Changed):
            select.set_options(options)
            if run_id is not None:
                select.value = run_id
        self.run_id = run_id
        if run_id is None:
            self.query_one("#live-status", Static).update(_("No run is training now."))
            return
        curves = self.curves.setdefault(run_id, Curves())
        curves.extend(points)
        self.draw(self.runs.get(run_id), curves, event)

    def draw(self, run: Run | None, curves: Curves, event: RunEvent | None = None) -> None:
        step = curves.steps[-1] if curves.steps else 0
        total = run.steps_total if run else 0
        speed = f"{curves.samples_per_s:.0f}" if curves.samples_per_s is not None else "–"
        status = _("step {step}/{total} · {speed} samples/s").format(step=step, total=total, speed=speed)
        if not curves.steps and event:
            # Before the first step, the newest event shows what the run is doing, and for how long.
            elapsed = (naive_utc(self.app.clock()) - naive_utc(event.created_at)).total_seconds()
            status += "\n" + _("{message} ({duration} ago)").format(message=event.message,
                                                                    duration=format_duration(max(0.0, elapsed)))
        self.query_one("#live-status", Static).update(status)
        self.query_one("#loss-title", Label).update(curve_title(_("loss"), describe(curves.loss, ".4f")))
        self.query_one("#lr-title", Label).update(curve_title(_("learning rate"), describe(curves.lr, ".2e")))
        self.query_one("#curve-loss", Sparkline).data = list(curves.loss)
        self.query_one("#curve-lr", Sparkline).data = list(curves.lr)
        box = self.query_one("#curve-temperature-box")
        shown = bool(curves.temperature) and run is not None and temperature_learned(run)
        box.set_class(not shown, "hidden")
        if shown:
            self.query_one("#temperature-title", Label).update(
                curve_title(_("temperature τ"), describe(curves.temperature, ".4f")))
            self.query_one("#curve-temperature", Sparkline).data = list(curves.temperature)

    @on(Select.Changed, "#live-run")
    def on_run_changed(self, event: Select.Changed) -> None:
        """Show the chosen run's curves."""
        if isinstance(event.value, int):
            self.run_id = event.value
            self.reload()
