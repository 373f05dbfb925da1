"""``xmr data``: build, register, describe and check datasets, and export predictions.

    xmr data register flickr30k-cn ~/data/Flickr30k-CN     # then configs set data.dataset: flickr30k-cn
    xmr data list
    xmr data info flickr30k-cn
    xmr data check flickr30k-cn                            # exits 1 when any row is bad
    xmr data predict demo_baseline --set data.dataset=muge --split test --top-k 10 --out test_pred.jsonl
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from xmr_tui.cli.common import DB_OPTION, CliError, console, one_line_errors, open_store, setup_logging
from xmr_tui.i18n import _

app = typer.Typer(help="Build, register, describe and check datasets.", no_args_is_help=True)


def _root(name: str, root: Optional[Path]) -> Path:
    if name != "emoji-zh":
        raise CliError(_("unknown built-in dataset {name!r}; available: emoji-zh").format(name=name))
    from engine.data.emoji_zh import default_root

    return root or default_root()


def locate_dataset(db: Optional[Path], name_or_path: str) -> tuple[Path, str]:
    """Return (folder, format) of a built-in name, a registered name or a folder path."""
    from engine.data.datasets import detect_format
    from xmr_tui.store.datasets import get_dataset

    if name_or_path == "emoji-zh":
        return _root(name_or_path, None), "cnclip"
    entry = get_dataset(open_store(db), name_or_path)
    if entry is not None:
        return Path(entry.path), entry.format
    folder = Path(name_or_path).expanduser()
    if folder.is_dir():
        return folder, detect_format(folder)
    raise CliError(_("{name!r} is neither a registered dataset nor a folder; see `xmr data list` or register it "
                     "with `xmr data register NAME PATH`").format(name=name_or_path))


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
        label = TextColumn(_("[bold]building {name}").format(name=name))
        with Progress(label, BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task(name, total=None)
            card = build_emoji_zh(target, seed=seed, force=force,
                                  progress=lambda done, total: progress.update(task, completed=done, total=total))
    console.print(_("{name} is ready in {folder}").format(name=name, folder=target), highlight=False, soft_wrap=True)
    console.print(card.to_markdown(), markup=False, highlight=False, soft_wrap=True)


@app.command("register")
def register(
    name: str = typer.Argument(..., help="name that configs will use as data.dataset"),
    path: Path = typer.Argument(..., help="dataset folder"),
    fmt: str = typer.Option("auto", "--format", help="auto, cnclip (Chinese-CLIP layout, tsv or LMDB) or plain "
                            "(captions.jsonl/csv beside image files)"),
    db: Optional[Path] = DB_OPTION,
) -> None:
    """Record a dataset folder under a name in the store (registering a name again re-points it)."""
    from engine.data.datasets import list_splits
    from xmr_tui.store.datasets import register_dataset

    with one_line_errors():
        entry = register_dataset(open_store(db), name, path, fmt)
        splits = list_splits(Path(entry.path), entry.format)
    console.print(_("registered {name}: {path} ({layout} layout, splits: {splits})").format(
        name=name, path=entry.path, layout=entry.format, splits=", ".join(splits)), highlight=False, soft_wrap=True)
    console.print(_("check it with `xmr data check {name}`").format(name=name), highlight=False, soft_wrap=True)


@app.command("list")
def list_command(db: Optional[Path] = DB_OPTION) -> None:
    """List registered datasets with their folder and layout."""
    from rich.table import Table

    from xmr_tui.store.datasets import list_datasets

    with one_line_errors():
        entries = list_datasets(open_store(db))
    table = Table(title=_("datasets"))
    for column in (_("name"), _("layout"), _("folder")):
        table.add_column(column)
    table.add_row("emoji-zh", "cnclip", _("built-in (`xmr data build emoji-zh`)"))
    for entry in entries:
        table.add_row(entry.name, entry.format, entry.path)
    console.print(table)


@app.command("info")
def info(
    name: str = typer.Argument("emoji-zh", help="dataset: emoji-zh, a registered name or a folder"),
    root: Optional[Path] = typer.Option(None, "--root", help="emoji-zh folder (default: the build folder)"),
    db: Optional[Path] = DB_OPTION,
) -> None:
    """Show a dataset's card (built-in datasets) or its layout and counts per split."""
    from engine.data.card import CARD_FILE, read_card

    with one_line_errors():
        folder, fmt = (_root(name, root), "cnclip") if name == "emoji-zh" else locate_dataset(db, name)
        if (folder / CARD_FILE).is_file() or name == "emoji-zh":
            card = read_card(folder)
            console.print(card.to_markdown(), markup=False, highlight=False, soft_wrap=True)
            return
        _print_split_counts(folder, fmt)


def _print_split_counts(folder: Path, fmt: str) -> None:
    from rich.table import Table

    from engine.data.datasets import list_splits, read_split

    table = Table(title=_("{folder} ({layout} layout)").format(folder=folder, layout=fmt))
    table.add_column(_("split"))
    for column in (_("texts"), _("images"), _("texts without image_ids"), _("bad rows")):
        table.add_column(column, justify="right")
    for split in list_splits(folder, fmt):
        loaded = read_split(folder, split, fmt, skip_bad=True)
        unanswered = sum(1 for text in loaded.texts if not text.image_ids)
        bad = sum(loaded.skipped.values())
        table.add_row(split, str(len(loaded.texts)), str(len(loaded.image_ids)), str(unanswered),
                      _("{count} (see `xmr data check`)").format(count=bad) if bad else _("0 (images not decoded)"))
    console.print(table)


@app.command("check")
def check(
    name: str = typer.Argument(..., help="dataset: emoji-zh, a registered name or a folder"),
    splits: Optional[list[str]] = typer.Option(None, "--split", help="check only this split (repeatable)"),
    workers: int = typer.Option(0, "--workers", help="processes that decode images (0 = this process)"),
    db: Optional[Path] = DB_OPTION,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="also log each split as it is read"),
) -> None:
    """Find bad rows (missing or undecodable images, empty captions, duplicate ids, malformed lines).

    Prints each problem kind with its first file:line locations and a count, and exits with
    status 1 when there is any problem.
    """
    import logging

    from engine.data.check import check_dataset

    setup_logging(verbose)
    if not verbose:  # the report below lists every problem, so the readers' own logs would repeat it
        logging.getLogger("engine.data").setLevel(logging.ERROR)
    with one_line_errors():
        folder, fmt = locate_dataset(db, name)
        result = check_dataset(folder, fmt, workers=workers, splits=splits)
    for line in result.report_lines():
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if not result.ok:
        console.print(_("{name}: problems found; fix them or train with --skip-bad to leave those rows out").format(
            name=name), highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    console.print(_("{name}: no problems found").format(name=name), highlight=False, soft_wrap=True)


@app.command("predict")
def predict(
    config: str = typer.Argument(..., help="combo name or YAML path; it is trained first, then used to predict"),
    split: str = typer.Option("test", "--split", help="split whose texts are the queries"),
    top_k: int = typer.Option(10, "--top-k", help="image ids written per text"),
    out: Path = typer.Option(..., "--out", help="output file: one {\"text_id\", \"image_ids\"} JSON object a line"),
    overrides: Optional[list[str]] = typer.Option(None, "--set", help="override a key: --set data.dataset=muge"),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda or cuda:N (default: CUDA when available)"),
    db: Optional[Path] = DB_OPTION,
) -> None:
    """Train a config, then write its top-k images for every text of a split in Chinese-CLIP's
    submission shape. Works on splits distributed without image_ids, which cannot be scored."""
    from engine.config import load_config
    from engine.data.submission import train_and_predict
    from xmr_tui.store.datasets import resolve_dataset

    setup_logging(verbose=False)
    with one_line_errors():
        resolved = resolve_dataset(open_store(db), load_config(config, overrides or []))
        written = train_and_predict(resolved, split, top_k, out, device=device)
    console.print(_("wrote top-{k} image ids for {count} texts of split {split} to {path}").format(
        k=top_k, count=written.texts, split=split, path=out), highlight=False, soft_wrap=True)
    if not written.scorable:
        console.print(_("split {split} has no image_ids, so these predictions cannot be scored here").format(
            split=split), highlight=False, soft_wrap=True)
