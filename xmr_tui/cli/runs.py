"""``xmr runs``: list stored runs, show one in detail, diff the configs of two."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from xmr_tui.cli.common import DB_OPTION, CliError, console, one_line_errors, open_store
from xmr_tui.i18n import N_, _

app = typer.Typer(help="List, show and compare stored runs.", no_args_is_help=True)

ARTIFACT_NAMES = {"checkpoint": N_("checkpoint")}
ABSENT = object()  # a config key that one of two runs does not have (configs from older xmr versions)


@app.command("list")
def list_command(
    status: Optional[str] = typer.Option(None, "--status", help="only runs with this status: queued, running, "
                                         "finished, failed or cancelled"),
    db: Optional[Path] = DB_OPTION,
) -> None:
    """List every run with its status, steps and headline recall."""
    from xmr_tui.store.runs import list_runs, metrics_by_run

    with one_line_errors():
        statuses = [_status(status)] if status else None
        store = open_store(db)
        runs = list_runs(store, statuses=statuses)
        metrics = metrics_by_run(store, [run.id for run in runs])
    table = Table(title=_("runs in {db}").format(db=store.path))
    for column in (_("id"), _("status"), _("name"), _("seed"), _("steps"), "t2i R@1", "i2t R@1", _("created")):
        table.add_column(column, overflow="fold")  # a long sequence run name wraps instead of ending in "…"
    for run in runs:
        values = metrics[run.id]
        table.add_row(str(run.id), _(run.status.value), run.name, str(run.seed), f"{run.steps_done}/{run.steps_total}",
                      _percent(values.get("t2i/R@1")), _percent(values.get("i2t/R@1")),
                      run.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)


def _status(text: str):  # type: ignore[no-untyped-def]
    from xmr_tui.store import RunStatus

    try:
        return RunStatus(text)
    except ValueError:
        allowed = ", ".join(s.value for s in RunStatus)
        message = _("--status {value!r} is invalid; allowed: {allowed}").format(value=text, allowed=allowed)
        raise CliError(message) from None


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


@app.command("show")
def show(
    run_id: int = typer.Argument(..., help="run id (see `xmr runs list`)"),
    events: int = typer.Option(10, "--events", help="how many of the latest events to show"),
    db: Optional[Path] = DB_OPTION,
) -> None:
    """Show one run: status, attempts, config summary, metrics, checkpoints and latest events."""
    from xmr_tui.store import runs as store_runs

    with one_line_errors():
        store = open_store(db)
        run = store_runs.get_run(store, run_id)
        metrics = store_runs.metrics_by_run(store, [run_id])[run_id]
        artifacts = store_runs.artifacts_of(store, run_id)
        latest_events = store_runs.events_of(store, run_id)[-events:] if events > 0 else []
    heading = _("[bold]run {id}[/]: {name} ({status})").format(id=run.id, name=run.name, status=_(run.status.value))
    console.print(heading, highlight=False)
    # A grid aligns the labels by display width, which f-string padding gets wrong for Chinese labels.
    fields = Table.grid(padding=(0, 2))
    for label, value in ((N_("config hash"), run.config_hash), (N_("dataset"), run.dataset), (N_("seed"), run.seed),
                         (N_("sequence"), run.sequence or "–"), (N_("steps"), f"{run.steps_done}/{run.steps_total}"),
                         (N_("attempt"), f"{run.attempt}/{run.max_attempts}"), (N_("worker"), run.claimed_by or "–"),
                         (N_("created"), _timestamp(run.created_at)), (N_("ended"), _timestamp(run.finished_at)),
                         (N_("error"), run.error or "–"), (N_("summary"), run.summary)):
        fields.add_row("  " + _(label), str(value))
    console.print(fields, highlight=False)
    _print_metrics(metrics)
    for artifact in artifacts:
        kind = _(ARTIFACT_NAMES.get(artifact.kind, artifact.kind))
        console.print("  " + _("{kind} at step {step}: {path}").format(kind=kind, step=artifact.step,
                                                                        path=artifact.path), highlight=False)
    for event in latest_events:
        console.print(f"  {event.created_at:%H:%M:%S} {event.level:7} {event.message}", highlight=False,
                      markup=False, soft_wrap=True)


def _timestamp(moment) -> str:  # type: ignore[no-untyped-def]
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "–"


def _print_metrics(metrics: dict[str, float]) -> None:
    if not metrics:
        return
    table = Table(title=_("final metrics"))
    table.add_column(_("metric"))
    table.add_column(_("value"), justify="right")
    for name in sorted(metrics):
        table.add_row(name, f"{metrics[name]:.4g}")
    console.print(table)


@app.command("diff")
def diff(
    first: int = typer.Argument(..., help="run id"),
    second: int = typer.Argument(..., help="run id to compare with"),
    db: Optional[Path] = DB_OPTION,
) -> None:
    """Show the config keys whose values differ between two runs."""
    from xmr_tui.store.runs import get_run

    with one_line_errors():
        store = open_store(db)
        left, right = get_run(store, first), get_run(store, second)
    differences = config_differences(json.loads(left.config_json), json.loads(right.config_json))
    if not differences:
        console.print(_("runs {first} and {second} have identical configs (hash {hash})").format(
            first=first, second=second, hash=left.config_hash), highlight=False)
        return
    table = Table(title=_("config differences: run {first} vs run {second}").format(first=first, second=second))
    for column in (_("key"), _("run {id}").format(id=first), _("run {id}").format(id=second)):
        table.add_column(column)
    for key, (a, b) in differences.items():
        table.add_row(key, _show(a), _show(b))
    console.print(table)


def config_differences(left: dict[str, Any], right: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Return ``key.path → (left value, right value)`` for every leaf that differs."""
    flat_left, flat_right = _flatten(left), _flatten(right)
    keys = sorted(set(flat_left) | set(flat_right))
    return {key: (flat_left.get(key, ABSENT), flat_right.get(key, ABSENT)) for key in keys
            if flat_left.get(key, ABSENT) != flat_right.get(key, ABSENT)}


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def _show(value: Any) -> str:
    return _("(absent)") if value is ABSENT else json.dumps(value, ensure_ascii=False)
