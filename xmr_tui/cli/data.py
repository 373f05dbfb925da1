"""``xmr data``: build and describe datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from xmr_tui.cli.common import CliError, console, one_line_errors, setup_logging

app = typer.Typer(help="Build and describe datasets.", no_args_is_help=True)


def _root(name: str, root: Optional[Path]) -> Path:
    if name != "emoji-zh":
        raise CliError(f"unknown built-in dataset {name!r}; available: emoji-zh")
    from engine.data.emoji_zh import default_root

    return root or default_root()


@app.command("build")
def build(
    name: str = typer.Argument("emoji-zh", help="built-in dataset to build"),
    root: Optional[Path] = typer.Option(None, "--root", help="output folder (default: $XMR_DATA/emoji-zh or "
                                        "~/.cache/xmr/datasets/emoji-zh)"),
    seed: int = typer.Option(0, "--seed", help="seed of the train/valid/test split"),
    force: bool = typer.Option(False, "--force", help="rebuild even if an identical build exists"),
) -> None:
    """Build a built-in dataset (idempotent: an identical existing build is kept)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from engine.data.emoji_zh import build_emoji_zh

    setup_logging(verbose=False)
    with one_line_errors():
        target = _root(name, root)
        with Progress(TextColumn(f"[bold]building {name}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as progress:
            task = progress.add_task(name, total=None)
            card = build_emoji_zh(target, seed=seed, force=force,
                                  progress=lambda done, total: progress.update(task, completed=done, total=total))
    console.print(f"{name} is in {target}", highlight=False)
    console.print(card.to_markdown(), markup=False, highlight=False)


@app.command("info")
def info(
    name: str = typer.Argument("emoji-zh", help="dataset name"),
    root: Optional[Path] = typer.Option(None, "--root", help="dataset folder (default: the build folder)"),
) -> None:
    """Show a dataset's card: counts per split, sources and licences."""
    from engine.data.card import read_card

    with one_line_errors():
        card = read_card(_root(name, root))
    console.print(card.to_markdown(), markup=False, highlight=False)
