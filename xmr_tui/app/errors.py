"""Errors the dashboard shows to the user, and the panel that shows one with its next step."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from xmr_tui.i18n import N_, _, translate_bindings


class TuiError(Exception):
    """An error phrased for the user, with the next step to take (``hint``)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class StoreError(TuiError):
    """The store could not be read or written."""


class WorkerStartError(TuiError):
    """``xmr worker --detach`` did not leave a worker running."""


class ErrorPanel(ModalScreen[None]):
    """One panel with the error message, its hint and a Close button (Escape also closes it)."""

    DEFAULT_CSS = """
    ErrorPanel { align: center middle; }
    ErrorPanel > Vertical {
        width: 70; max-width: 95%; height: auto; padding: 1 2;
        border: thick $error; background: $surface;
    }
    ErrorPanel #error-title { text-style: bold; color: $error; }
    ErrorPanel #error-hint { color: $text-muted; margin-top: 1; }
    ErrorPanel Button { margin-top: 1; }
    """
    BINDINGS = [Binding("escape", "dismiss", N_("Close"))]

    def __init__(self, title: str, message: str, hint: str = "") -> None:
        super().__init__()
        translate_bindings(self)
        self.title_text, self.message, self.hint = title, message, hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, id="error-title", markup=False)
            yield Static(self.message, id="error-message", markup=False)
            if self.hint:
                yield Static(self.hint, id="error-hint", markup=False)
            yield Button(_("Close"), variant="error", id="error-close")

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        """Close the panel."""
        self.dismiss()
