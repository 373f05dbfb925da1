"""Help pages and parser messages of ``xmr`` in the language chosen by ``--lang`` or the locale.

Typer copies help texts out of docstrings and ``help=`` arguments while the command modules are
imported, which happens before ``--lang`` is parsed. So the root group reads the language from
the raw arguments (or the environment) just before parsing and swaps every help text of the
command tree for its translation. The English texts are the catalog's msgids, so the catalog
test can list them by walking the same tree (``help_texts``).

Typer looks up its own words (``Options``, ``Commands``, ``Missing command.``) in the stdlib's
default gettext domain, which follows only the environment. ``route_typer_messages`` points those
lookups at this catalog instead. The parser errors of the Click copy inside Typer are plain
English strings with no hook, so they stay English.
"""

from __future__ import annotations

import gettext
import re
from typing import Any, Iterator, Union

import typer
import typer.core
import typer.rich_utils
from rich.cells import cell_len
from typer.core import TyperCommand, TyperGroup

from xmr_tui.i18n import N_, _, language_in_args, set_language

Command = Union[TyperCommand, TyperGroup]

# Typer's own messages, spelled exactly as in Typer's source.
TYPER_MESSAGES = (
    N_("Arguments"), N_("Options"), N_("Commands"), N_("Error"), N_("Aborted."), N_("Aborted!"),
    N_("Try [blue]'{command_path} {help_option}'[/] for help."), N_("[default: {}]"), N_("[env var: {}]"),
    N_("[required]"), N_("(deprecated) "), N_("Missing command."), N_("No such command {name!r}."),
)

# Typer renders its panels from these module constants, read at each call.
_TYPER_CONSTANTS = ("ARGUMENTS_PANEL_TITLE", "OPTIONS_PANEL_TITLE", "COMMANDS_PANEL_TITLE", "ERRORS_PANEL_TITLE",
                    "ABORTED_TEXT", "RICH_HELP", "DEFAULT_STRING", "ENVVAR_STRING", "REQUIRED_LONG_STRING",
                    "DEPRECATED_STRING")
_typer_english: dict[str, str] = {}

_ONE_LINE_CELLS = 24  # the option help column of `xmr worker --help` at 80 columns is about 28 cells wide
# Clause punctuation followed by a CJK character (before Latin text a space is already usual).
_CLAUSE_END = re.compile(r"[，；：、）](?=[\u4e00-\u9fff])")


class TranslatedGroup(TyperGroup):
    """The root ``xmr`` group: chooses the language, then translates help texts before parsing."""

    def make_context(self, info_name: str | None, args: list[str], parent: typer.Context | None = None,
                     **extra: Any) -> typer.Context:
        if parent is None:
            set_language(language_in_args(args))
            route_typer_messages()
            translate_help(self)
        return super().make_context(info_name, args, parent=parent, **extra)


def translate_help(command: Command) -> None:
    """Replace the help texts of ``command`` and of every command below it by their translations."""
    for node, attribute, english in _help_slots(command):
        setattr(node, attribute, with_break_points(_(english)))


def with_break_points(text: str) -> str:
    """Add a space after Chinese clause punctuation, so that Rich may wrap a long help line there.

    Rich wraps only at whitespace and cuts a longer run with "…" in Typer's help tables.
    Chinese sentences have no spaces, so without these a translated help text loses its end.
    Texts that fit on one line of the narrowest help column are left as written.
    """
    if cell_len(text) <= _ONE_LINE_CELLS:
        return text
    return _CLAUSE_END.sub(lambda match: match.group(0) + " ", text)


def help_texts(command: Command) -> set[str]:
    """Return every help text of ``command``'s tree, as the English msgids the catalog must hold."""
    return {english for _node, _attribute, english in _help_slots(command)}


def _help_slots(command: Command) -> Iterator[tuple[Any, str, str]]:
    # The help option is built on first use and then kept on the command, so build it now.
    help_option = command.get_help_option(typer.Context(command))
    for node in [command, *command.params, *([help_option] if help_option else [])]:
        for attribute in ("help", "short_help"):
            english = _english_text(node, attribute)
            if english:
                yield node, attribute, english
    for child in getattr(command, "commands", {}).values():
        yield from _help_slots(child)


def _english_text(node: Any, attribute: str) -> str | None:
    # Each slot remembers its English text, so a later translation (another --lang) starts from it.
    english = node.__dict__.setdefault("_xmr_english", {})
    if attribute not in english:
        english[attribute] = getattr(node, attribute, None)
    return english[attribute]


def route_typer_messages() -> None:
    """Look up Typer's own messages in this catalog, in the current language."""
    # NOTE: this rebinds the ``_`` (``gettext.gettext``) of typer.core, which is not a documented hook.
    # The default gettext domain reads only the environment, so it cannot follow --lang.
    if typer.core._ is gettext.gettext:  # type: ignore[attr-defined]
        typer.core._ = _  # type: ignore[attr-defined]
    for name in _TYPER_CONSTANTS:
        english = _typer_english.setdefault(name, getattr(typer.rich_utils, name))
        setattr(typer.rich_utils, name, _(english))
