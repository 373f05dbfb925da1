"""Message translation for the CLI and the TUI through gettext catalogs (English and zh-CN).

Wrap user-facing text in ``_()``. The engine marks its messages the same way (``engine.messages``),
and importing this module routes them through this catalog. The language comes from
``set_language`` (``--lang en|zh``) or, when none is given, from ``language_from_env`` (LC_ALL,
LC_MESSAGES, then LANG). Field terms such as R@1, mAP, InfoNCE and LLRD are left untranslated in
the catalog on purpose.
"""

from __future__ import annotations

import gettext
import os
from pathlib import Path

from engine import messages as engine_messages

DOMAIN = "xmr"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "zh")

_translation: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"


def language_from_env(environ: dict[str, str] | None = None) -> str:
    """Return ``zh`` when the first set of LC_ALL, LC_MESSAGES, LANG starts with ``zh``, else ``en``."""
    environ = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name)
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def language_in_args(args: list[str]) -> str | None:
    """Return the value of ``--lang`` in ``args`` when it names a known language, else None.

    An unknown value is left for the ``--lang`` option itself to reject with its usual error.
    """
    for index, arg in enumerate(args):
        if arg == "--":
            break
        value = None
        if arg == "--lang" and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith("--lang="):
            value = arg.split("=", 1)[1]
        if value is not None:
            return value if value in LANGUAGES else None
    return None


def set_language(language: str | None) -> str:
    """Switch every later ``_()`` call to ``language`` (``en``, ``zh``, or None for the environment)."""
    global _translation, _language
    language = language or language_from_env()
    if language not in LANGUAGES:
        raise ValueError(f"language {language!r} is not supported; use one of: {', '.join(LANGUAGES)}")
    if language == "zh":
        _translation = gettext.translation(DOMAIN, LOCALE_DIR, languages=["zh_CN"])
    else:
        _translation = gettext.NullTranslations()
    _language = language
    return language


def current_language() -> str:
    return _language


def _(message: str) -> str:
    """Return ``message`` translated into the current language."""
    return _translation.gettext(message)


def N_(message: str) -> str:
    """Mark ``message`` for the catalog without translating it yet (for module-level constants)."""
    return message


# The engine's errors and data-check reports are looked up in the same catalog.
engine_messages.install(_)


def translate_bindings(node) -> None:  # type: ignore[no-untyped-def]
    """Translate the footer descriptions of ``node``'s key bindings into the current language.

    Class-level ``BINDINGS`` are built at import time, before ``--lang`` is parsed, so their
    descriptions are marked with ``N_`` and translated per instance here.
    """
    import dataclasses

    # NOTE: uses DOMNode._bindings, which Textual 8.2 fills in DOMNode.__init__ (not a public API).
    table = node._bindings.key_to_bindings
    for key, bindings in table.items():
        table[key] = [dataclasses.replace(binding, description=_(binding.description)) for binding in bindings]
