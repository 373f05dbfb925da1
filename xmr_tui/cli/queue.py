"""``xmr queue``: add runs for background workers, list, cancel and retry them."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from xmr_tui.cli.common import DB_OPTION, CliError, console, one_line_errors, open_store, parse_ids
from xmr_tui.i18n import N_, _

app = typer.Typer(help="Queue runs for `xmr worker`, list, cancel and retry them.", no_args_is_help=True)


@app.command("add")
def add(
    combo: Optional[str] = typer.Argument(None, help="combo name (e.g. combo_a, demo_baseline) or YAML path"),
    overrides: Optional[list[str]] = typer.Option(None, "--set", help="override a key: --set train.steps=200"),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="dataset name or folder (sets data.dataset)"),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="comma-separated seeds, one run each: 1,2,3"),
    sequence: Optional[str] = typer.Option(None, "--sequence", help="queue every combo of a sequence "
                                           "(configs/sequences/NAME.yaml) instead of one combo"),
    device: Optional[str] = typer.Option(None, "--device", help="only a worker on this device may take the runs "
                                         "(default: any worker)"),
    max_attempts: int = typer.Option(3, "--max-attempts", min=1, help="claims before a run whose worker keeps "
                                     "dying is marked failed"),
    db: Optional[Path] = DB_OPTION,
) -> None:
    """Queue runs of a combo (one per seed) or of a whole sequence; `xmr worker` trains them."""
    from xmr_tui.store.queue import enqueue

    with one_line_errors():
        extra = list(overrides or [])
        if dataset:
            extra.append(f"data.dataset={dataset}")
        configs = _sequence_configs(sequence, combo, extra) if sequence else _combo_configs(combo, extra)
        configs = _with_seeds(configs, seeds)
        for config in configs:
            _check_dataset(config)
        if device:
            from engine.train import parse_device

            parse_device(device)
        store = open_store(db)
        queued = enqueue(store, configs, sequence=sequence, device=device, max_attempts=max_attempts)
    for run in queued:
        console.print(_("queued run {id}: [bold]{name}[/] seed {seed}").format(id=run.id, name=run.name, seed=run.seed),
                      highlight=False)
    console.print(_("{count} run(s) queued in {db}; start a worker with `xmr worker`").format(
        count=len(queued), db=store.path), highlight=False)


def _combo_configs(combo: str | None, overrides: list[str]) -> list:
    from engine.config import load_config

    if combo is None:
        raise CliError(_("give a COMBO to queue (see `xmr combos`) or --sequence NAME"))
    return [load_config(combo, overrides)]


def _sequence_configs(sequence: str, combo: str | None, overrides: list[str]) -> list:
    if combo is not None:
        raise CliError(_("give either COMBO ({combo!r}) or --sequence ({sequence!r}), not both").format(
            combo=combo, sequence=sequence))
    from engine.sequences import load_sequence

    # Each config is named "<sequence>/<run name>" by the loader, which reports show.
    return [config for _name, config in load_sequence(sequence, overrides)]


def _with_seeds(configs: list, seeds: str | None) -> list:
    import dataclasses

    if not seeds:
        return configs
    values = _parse_seeds(seeds)
    return [dataclasses.replace(config, train=dataclasses.replace(config.train, seed=seed))
            for config in configs for seed in values]


def _parse_seeds(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise CliError(_("--seeds {value!r} is invalid; expected comma-separated whole numbers such as 1,2,3").format(
            value=text)) from None
    if not values:
        raise CliError(_("--seeds is empty; expected comma-separated whole numbers such as 1,2,3"))
    return values


def _check_dataset(config) -> None:  # type: ignore[no-untyped-def]
    """Raise DatasetError now, not when a worker starts the run, if the training split is missing."""
    from engine.data.datasets import dataset_root
    from engine.data.records import DatasetError

    root = dataset_root(config.data)
    texts = root / f"{config.data.train_split}_texts.jsonl"
    if not texts.is_file():
        hint = _("run `xmr data build emoji-zh`") if config.data.dataset == "emoji-zh" else _("check --dataset")
        raise DatasetError(_("dataset {name!r}: {path} not found; {hint}").format(name=config.data.dataset, path=texts,
                                                                                  hint=hint))


@app.command("list")
def list_command(
    show_all: bool = typer.Option(False, "--all", "-a", help="include finished runs"),
    db: Optional[Path] = DB_OPTION,
) -> None:
    """List queued, running, failed and cancelled runs with their attempts and leases."""
    from xmr_tui.store import RunStatus
    from xmr_tui.store.runs import list_runs

    with one_line_errors():
        statuses = None if show_all else [s for s in RunStatus if s != RunStatus.finished]
        runs = list_runs(open_store(db), statuses=statuses)
    table = Table(title=_("run queue"))
    for column in (_("id"), _("status"), _("name"), _("seed"), _("steps"), _("attempt"), _("worker"), _("lease left"),
                   _("error")):
        table.add_column(column, overflow="fold")  # a long sequence run name wraps instead of ending in "…"
    for run in runs:
        table.add_row(str(run.id), _(run.status.value), run.name, str(run.seed), f"{run.steps_done}/{run.steps_total}",
                      f"{run.attempt}/{run.max_attempts}", run.claimed_by or "", _lease_left(run),
                      (run.error or "")[:60])
    console.print(table)


def _lease_left(run) -> str:  # type: ignore[no-untyped-def]
    from datetime import timezone

    from xmr_tui.store.models import utcnow

    if run.lease_expires_at is None:
        return ""
    # SQLite returns the stored UTC times without a time zone.
    seconds = (run.lease_expires_at.replace(tzinfo=timezone.utc) - utcnow()).total_seconds()
    return f"{seconds:.0f}s" if seconds > 0 else _("expired")


@app.command("cancel")
def cancel(
    run_ids: str = typer.Argument(..., help="run id, or comma-separated ids"),
    db: Optional[Path] = DB_OPTION,
) -> None:
    """Cancel queued or running runs; a running one stops at its worker's next heartbeat."""
    from xmr_tui.store.queue import cancel_run

    _apply_to_runs(run_ids, db, cancel_run, N_("run {id} cancelled"))


@app.command("retry")
def retry(
    run_ids: str = typer.Argument(..., help="run id, or comma-separated ids"),
    db: Optional[Path] = DB_OPTION,
) -> None:
    """Queue failed or cancelled runs again; each resumes from its last checkpoint."""
    from xmr_tui.store.queue import retry_run

    _apply_to_runs(run_ids, db, retry_run, N_("run {id} queued again"))


def _apply_to_runs(run_ids: str, db: Path | None, operation, outcome: str) -> None:  # type: ignore[no-untyped-def]
    with one_line_errors():
        store = open_store(db)
        for run_id in parse_ids(run_ids, "ID"):
            operation(store, run_id)
            console.print(_(outcome).format(id=run_id), highlight=False)
