"""The Compose tab: a combo preset, one menu per axis, the live summary line and validation.

Queueing writes runs to the store, and a worker trains them. Saving writes a new combo file
that ``extends:`` the preset and sets only the changed axes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static

from engine.config import ConfigError, summary_line
from xmr_tui.app.composition import Axis, Composition, config_axes, default_preset, get_value, list_presets
from xmr_tui.i18n import N_, _, translate_bindings
from xmr_tui.store.queue import enqueue


# The key label of Textual's drop-down menus, listed here so the catalog has its translation.
SELECT_MENU_LABELS = (N_("Dismiss menu"),)


def axis_id(axis: Axis) -> str:
    return "axis-" + axis.key.replace(".", "-")


def option_label(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


class ComposeTab(Widget):
    """Menus for every axis, starting from a combo preset, with actions to queue or save the result."""

    DEFAULT_CSS = """
    ComposeTab { layout: vertical; }
    ComposeTab #compose-head { height: 1; }
    ComposeTab #compose-head Label { width: 8; }
    ComposeTab #preset { width: 1fr; }
    ComposeTab #summary { height: auto; max-height: 6; color: $text-muted; }
    ComposeTab #config-error { height: auto; color: $error; }
    ComposeTab #axes { height: 1fr; border-top: solid $primary-darken-2; }
    ComposeTab .axis-row { height: 1; }
    ComposeTab .axis-row Label { width: 26; }
    ComposeTab .axis-row Select { width: 1fr; }
    ComposeTab #compose-actions { height: 1; dock: bottom; }
    ComposeTab #compose-actions Input { width: 10; }
    ComposeTab #compose-actions #combo-name { width: 16; }
    ComposeTab #compose-actions #seed-count { width: 5; }
    ComposeTab #compose-actions #seed-label { margin-left: 1; }
    ComposeTab #compose-actions Button { margin-left: 1; min-width: 10; }
    """
    BINDINGS = [
        Binding("ctrl+t", "queue_run", N_("Queue run")),
        Binding("ctrl+n", "queue_seeds", N_("Queue seeds")),
        Binding("ctrl+s", "save_combo", N_("Save combo")),
    ]

    def __init__(self, configs: Path | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        translate_bindings(self)
        self.presets = list_presets(configs)
        self.axes = config_axes()
        self.composition: Composition | None = None

    def compose(self) -> ComposeResult:
        options = [(path.stem, path) for path in self.presets]
        # The menu starts on the default preset: a Select announces its first value once mounted,
        # and that announcement would otherwise load the first preset instead.
        start = default_preset(self.presets) if self.presets else Select.NULL
        with Horizontal(id="compose-head"):
            yield Label(_("Preset"))
            yield Select(options, value=start, id="preset", allow_blank=not options, compact=True,
                         prompt=_("no combo files found"))
        yield Static(id="summary", markup=False)
        yield Static(id="config-error", markup=False)
        with VerticalScroll(id="axes"):
            for axis in self.axes:
                with Horizontal(classes="axis-row"):
                    yield Label(axis.key)
                    choices = [(option_label(value), value) for value in axis.options]
                    yield Select(choices, id=axis_id(axis), allow_blank=True, compact=True, tooltip=axis.doc,
                                 prompt="–")
        with Horizontal(id="compose-actions"):
            yield Input(placeholder=_("name"), id="combo-name", compact=True)
            yield Input(placeholder=_("steps"), id="steps", type="integer", compact=True,
                        tooltip=_("optimizer steps (empty: the preset's train.steps)"))
            yield Button(_("Queue run"), id="queue-run", compact=True, variant="primary")
            # The seed count sits right before the button that uses it, so it reads as its argument.
            yield Label(_("seeds:"), id="seed-label")
            yield Input("3", id="seed-count", type="integer", compact=True, tooltip=_("number of seeds"))
            yield Button(_("Queue seeds"), id="queue-seeds", compact=True)
            yield Button(_("Save combo"), id="save-combo", compact=True)

    def on_mount(self) -> None:
        """Load the default preset and translate the menus' own key labels."""
        for overlay in self.query("SelectOverlay"):  # Textual's drop-down list inside each Select
            translate_bindings(overlay)
        if self.presets:
            self.load_preset(default_preset(self.presets))

    # --- composition -------------------------------------------------------------------------

    def load_preset(self, preset: Path) -> None:
        """Start a new composition from ``preset`` and set every menu to its values."""
        self.composition = Composition(preset)
        steps = self.query_one("#steps", Input).value.strip()
        if steps.isdigit():  # the steps box outlives a change of preset, so its number still applies
            self.composition.overrides["train.steps"] = int(steps)
        try:
            tree = self.composition.build().to_dict()
        except ConfigError as error:
            self.show_validation(error)
            return
        with self.prevent(Select.Changed):
            self.query_one("#preset", Select).value = preset
            for axis in self.axes:
                value = get_value(tree, axis.key)
                select = self.query_one(f"#{axis_id(axis)}", Select)
                choices = [(option_label(option), option) for option in axis.options]
                if value not in axis.options:
                    # A backbone given by Hugging Face or timm name rather than a registered one.
                    choices.append((option_label(value), value))
                select.set_options(choices)
                select.value = value
        self.show_validation()

    def set_axis(self, key: str, value: Any) -> None:
        """Change one axis of the composition (used by the menus and by tests)."""
        axis = next(axis for axis in self.axes if axis.key == key)
        self.query_one(f"#{axis_id(axis)}", Select).value = value

    def show_validation(self, error: Exception | None = None) -> None:
        """Show the summary line of the current composition, or why it is invalid."""
        summary, problem = "", ""
        if error is None and self.composition is not None:
            try:
                summary = summary_line(self.composition.build())
            except ConfigError as raised:
                error = raised
        if error is not None:
            problem = _("Invalid: {error}").format(error=error)
        self.query_one("#summary", Static).update(summary)
        error_line = self.query_one("#config-error", Static)
        error_line.update(problem)
        error_line.display = bool(problem)

    @on(Select.Changed, "#preset")
    def on_preset_changed(self, event: Select.Changed) -> None:
        """Restart the composition from the chosen preset."""
        if isinstance(event.value, Path):
            self.load_preset(event.value)

    @on(Select.Changed, ".axis-row Select")
    def on_axis_changed(self, event: Select.Changed) -> None:
        """Record the new axis value and validate again."""
        if self.composition is None or event.value is Select.NULL:
            return
        key = next(axis.key for axis in self.axes if axis_id(axis) == event.select.id)
        self.composition.overrides[key] = event.value
        self.show_validation()

    @on(Input.Changed, "#steps")
    def on_steps_changed(self, event: Input.Changed) -> None:
        """Override ``train.steps`` with the typed number, or drop the override when the box is empty."""
        if self.composition is None:
            return
        text = event.value.strip()
        if text.lstrip("-").isdigit():
            self.composition.overrides["train.steps"] = int(text)
        else:
            self.composition.overrides.pop("train.steps", None)
        self.show_validation()

    # --- actions -----------------------------------------------------------------------------

    def action_queue_run(self) -> None:
        """Queue one run of the composition."""
        self.queue_runs(1)

    def action_queue_seeds(self) -> None:
        """Queue one run per seed, as many as the number in the seed box."""
        text = self.query_one("#seed-count", Input).value
        self.queue_runs(int(text) if text.strip().lstrip("-").isdigit() else 0)

    def action_save_combo(self) -> None:
        """Save the composition as a new combo file under configs/."""
        if self.composition is None:
            return
        name = self.query_one("#combo-name", Input).value.strip()
        try:
            path = self.composition.save(name)
        except ConfigError as error:
            self.app.show_error(_("Cannot save the combo"), str(error),
                                _("Type a new name in the name box, then save again."))
            return
        self.app.notify(_("Saved {path}").format(path=path))

    def queue_runs(self, count: int) -> None:
        if self.composition is None:
            return
        try:
            configs = self.composition.seeded(count)
        except ConfigError as error:
            self.app.show_error(_("Cannot queue this composition"), str(error),
                                _("Change the axis named in the message, then queue again."))
            return
        name = self.query_one("#combo-name", Input).value.strip()
        if name:
            configs = [_renamed(config, name) for config in configs]
        self.write_queue(configs)

    @work(thread=True, group="compose")
    def write_queue(self, configs: list) -> None:
        runs = enqueue(self.app.store, configs)
        ids = ", ".join(str(run.id) for run in runs)
        self.app.call_from_thread(self.app.notify, _("Queued run(s) {ids}").format(ids=ids))
        self.app.call_from_thread(self.app.refresh_store)

    @on(Button.Pressed, "#queue-run")
    def on_queue_run_pressed(self) -> None:
        """Queue one run."""
        self.action_queue_run()

    @on(Button.Pressed, "#queue-seeds")
    def on_queue_seeds_pressed(self) -> None:
        """Queue N seeds."""
        self.action_queue_seeds()

    @on(Button.Pressed, "#save-combo")
    def on_save_combo_pressed(self) -> None:
        """Save the combo file."""
        self.action_save_combo()


def _renamed(config, name: str):  # type: ignore[no-untyped-def]
    import dataclasses

    return dataclasses.replace(config, name=name)
