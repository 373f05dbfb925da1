"""Shared CLI plumbing: the store option, logging setup, and turning errors into one line."""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path
from typing import Iterator

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from xmr_tui.i18n import _

console = Console()
error_console = Console(stderr=True)

DB_OPTION = typer.Option(None, "--db", envvar="XMR_DB", help="experiment store file (default: ./experiments.db)")


class CliError(Exception):
    """An error already phrased for the user."""


def user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions whose message is written for users: shown as one line, no traceback."""
    from engine.config import ConfigError
    from engine.data.records import DatasetError
    from engine.metrics import NoRelevantItemsError
    from engine.models.weights import WeightsNotFoundError
    from engine.registry import UnknownNameError
    from engine.train import NonFiniteLossError
    from engine.checkpoint import CheckpointError
    from xmr_tui.store.migrations import SchemaTooNewError
    from xmr_tui.store.runs import RunNotFoundError

    return (CliError, ConfigError, DatasetError, WeightsNotFoundError, UnknownNameError, NonFiniteLossError,
            NoRelevantItemsError, RunNotFoundError, CheckpointError, SchemaTooNewError, FileNotFoundError,
            ValueError)


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Print a user error as ``error: …`` on stderr and exit with status 1."""
    try:
        yield
    except user_errors() as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        error_console.print(_("[bold red]error:[/] {message}").format(message=escape(message)), highlight=False,
                            soft_wrap=True)
        raise typer.Exit(1) from None


def setup_logging(verbose: bool) -> None:
    handler = RichHandler(console=error_console, show_path=False, show_time=False, markup=False)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler],
                        format="%(name)s: %(message)s", force=True)
    # Where weights and data came from is worth seeing on every run.
    for name in ("engine.models", "engine.data"):
        logging.getLogger(name).setLevel(logging.INFO)


def open_store(db: Path | None):
    from xmr_tui.store import Store

    return Store(db)


def parse_ids(text: str, option: str) -> list[int]:
    """Parse ``1,2,5`` into run ids, raising CliError naming ``option`` when it is not that."""
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise CliError(_("{option} {value!r} is invalid; expected run ids such as 3 or 1,2,5").format(
            option=option, value=text)) from None
    if not ids:
        raise CliError(_("{option} is empty; expected run ids such as 3 or 1,2,5").format(option=option))
    return ids


def exit_interrupted() -> None:
    error_console.print(_("interrupted"))
    sys.exit(130)
