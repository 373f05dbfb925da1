"""Command-palette entries (Ctrl+P) for every action of the dashboard."""

from __future__ import annotations

from functools import partial

from textual.command import Hit, Hits, Provider

from xmr_tui.i18n import _


class XmrCommands(Provider):
    """Offers each of ``XmrApp.palette_actions()`` by its translated title."""

    async def search(self, query: str) -> Hits:
        """Yield the actions whose title matches ``query``."""
        matcher = self.matcher(query)
        for title, help_text, callback in self.app.palette_actions():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(callback), help=help_text)

    async def discover(self) -> Hits:
        """Yield every action when the palette opens empty."""
        for title, help_text, callback in self.app.palette_actions():
            yield Hit(1.0, title, partial(callback), help=help_text)
