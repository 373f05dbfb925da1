"""Command-palette entries (Ctrl+P) for every action of the dashboard."""

from __future__ import annotations

from functools import partial

from textual.command import Hit, Hits, Provider

from xmr_tui.i18n import _


class XmrCommands(Provider):
    """Offers each of ``XmrApp.palette_actions()`` by its translated title."""

    async def search(self, query: str) -> Hits:
        """Yield the actions whose translated or English title matches ``query``."""
        matcher = self.matcher(query)
        for english, help_text, callback in self.app.palette_actions():
            title = _(english)
            # English words match too, so a Chinese interface needs no input method to find an action.
            score = max(matcher.match(title), matcher.match(english))
            if score > 0:
                label = matcher.highlight(title) if matcher.match(title) else title
                yield Hit(score, label, partial(callback), help=_(help_text))

    async def discover(self) -> Hits:
        """Yield every action when the palette opens empty."""
        for english, help_text, callback in self.app.palette_actions():
            yield Hit(1.0, _(english), partial(callback), help=_(help_text))
