"""``xmr combos``: list the combos and sequences under configs/ with their one-line summaries."""

from __future__ import annotations

import typer

from xmr_tui.cli.common import console, one_line_errors
from xmr_tui.i18n import N_, _

KIND_NAMES = {"combo": N_("combo"), "sequence": N_("sequence")}


def combos_command(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="also print each sequence run's summary"),
) -> None:
    """List every combo and sequence with its one-line config summary."""
    from engine.sequences import catalog

    with one_line_errors():
        entries = catalog()
    for entry in entries:
        if entry.error:
            message = _("{kind} {name}: invalid: {error}").format(kind=_(KIND_NAMES[entry.kind]), name=entry.name,
                                                                  error=entry.error)
            console.print(message, style="red", markup=False, highlight=False, soft_wrap=True)
            continue
        if entry.kind == "combo":
            console.print(f"[bold]{entry.name}[/]  {entry.summary}", highlight=False, soft_wrap=True)
            continue
        console.print(_("[bold]sequence {name}[/]  {summary} ({count} runs)").format(
            name=entry.name, summary=entry.summary, count=len(entry.runs)), highlight=False, soft_wrap=True)
        for name, summary in entry.runs:
            console.print(f"  {name}" + (f"  {summary}" if verbose else ""), highlight=False, soft_wrap=True)
