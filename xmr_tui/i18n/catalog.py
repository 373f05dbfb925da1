"""Compile a gettext ``.po`` catalog into the binary ``.mo`` file that ``gettext`` reads.

Does what ``msgfmt`` does for the plain catalogs used here (no plural forms, no contexts), so
no extra tool is needed: ``python -m xmr_tui.i18n.catalog`` rewrites every ``xmr.mo``.
"""

from __future__ import annotations

import ast
import struct
from pathlib import Path

from xmr_tui.i18n import DOMAIN, LOCALE_DIR


class CatalogError(ValueError):
    """Raised for a .po line this compiler does not understand."""


def parse_po(text: str, source: str = "<po>") -> dict[str, str]:
    """Return the msgid → msgstr pairs of a .po file, skipping fuzzy and untranslated entries."""
    messages: dict[str, str] = {}
    msgid: list[str] = []
    msgstr: list[str] = []
    current: list[str] | None = None
    fuzzy = False

    def flush() -> None:
        nonlocal fuzzy
        if current is not None and not fuzzy and "".join(msgstr):
            messages["".join(msgid)] = "".join(msgstr)
        fuzzy = False

    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif not line or line.startswith("#"):
            continue
        elif line.startswith("msgid "):
            flush()
            msgid, msgstr = [ast.literal_eval(line[6:])], []
            current = msgid
        elif line.startswith("msgstr "):
            msgstr.append(ast.literal_eval(line[7:]))
            current = msgstr
        elif line.startswith('"') and current is not None:
            current.append(ast.literal_eval(line))
        else:
            raise CatalogError(f"{source}:{number}: unsupported line {line!r}")
    flush()
    return messages


def build_mo(messages: dict[str, str]) -> bytes:
    """Return the GNU .mo encoding of ``messages`` (little-endian, sorted keys, no hash table)."""
    keys = sorted(messages)
    ids = [key.encode() for key in keys]
    strs = [messages[key].encode() for key in keys]
    header_size = 7 * 4
    ids_table = header_size
    strs_table = ids_table + 8 * len(keys)
    data_start = strs_table + 8 * len(keys)
    offsets, data = [], b""
    for encoded in ids + strs:
        offsets.append((len(encoded), data_start + len(data)))
        data += encoded + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, len(keys), ids_table, strs_table, 0, 0)
    table = b"".join(struct.pack("<2I", length, offset) for length, offset in offsets)
    return header + table + data


def compile_catalogs(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """Write ``xmr.mo`` beside every ``xmr.po`` under ``locale_dir``; return the written paths."""
    written = []
    for po_path in sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        messages = parse_po(po_path.read_text(encoding="utf-8"), str(po_path))
        mo_path = po_path.with_suffix(".mo")
        mo_path.write_bytes(build_mo(messages))
        written.append(mo_path)
    return written


if __name__ == "__main__":
    for path in compile_catalogs():
        print(f"wrote {path}")
