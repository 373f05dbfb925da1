"""``xmr combos``: list the combos and sequences under configs/ with their one-line summaries."""

from __future__ import annotations

import typer

from xmr_tui.cli.common import console, one_line_errors


def combos_command(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="also print each sequence run's summary"),
) -> None:
    """List every combo and sequence with its one-line config summary."""
    from engine.sequences import catalog

    with one_line_errors():
        entries = catalog()
    for entry in entries:
        if entry.error:
            console.print(f"[red]{entry.kind} {entry.name}: invalid: {entry.error}[/]", highlight=False)
            continue
        if entry.kind == "combo":
            console.print(f"[bold]{entry.name}[/]  {entry.summary}", highlight=False, soft_wrap=True)
            continue
        console.print(f"[bold]sequence {entry.name}[/]  {entry.summary} ({len(entry.runs)} runs)",
                      highlight=False, soft_wrap=True)
        for name, summary in entry.runs:
            console.print(f"  {name}" + (f"  {summary}" if verbose else ""), highlight=False, soft_wrap=True)
