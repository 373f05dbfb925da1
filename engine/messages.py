"""Translation hook for the engine's user-facing messages (errors and data-check reports).

The engine does not choose a language itself. An application that has a message catalog calls
``install`` once with its translate function, and every later ``_()`` in the engine goes through
it. Without one, messages stay English. Mark each message with ``_()`` around the template, then
``.format()`` the values in, so that the catalog has one entry per template.
"""

from __future__ import annotations

from typing import Callable

_translate: Callable[[str], str] = str


def install(translate: Callable[[str], str]) -> None:
    """Send every later ``_()`` call of the engine through ``translate``."""
    global _translate
    _translate = translate


def _(message: str) -> str:
    """Return ``message`` in the installed language (unchanged when no translation is installed)."""
    return _translate(message)


def N_(message: str) -> str:
    """Mark ``message`` for the catalog without translating it yet (for module-level tables)."""
    return message
