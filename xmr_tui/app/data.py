"""Store reads and writes of the dashboard, kept free of widgets so they run in worker threads.

Every function here opens short sessions on the ``Store`` it is given. Widgets call them from
Textual thread workers and receive plain rows back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from sqlmodel import col, select

from xmr_tui.report import ReportGroup, ReportRow, add_curve_metrics, group_rows
from xmr_tui.store.database import Store
from xmr_tui.store.models import Artifact, Run, RunEvent, RunStatus, StepMetric
from xmr_tui.store.runs import artifacts_of, events_of, list_runs, metrics_by_run

Clock = Callable[[], datetime]


def naive_utc(moment: datetime) -> datetime:
    """Drop the timezone of a UTC time, because SQLite returns stored times without one."""
    return moment.replace(tzinfo=None)


def eta_seconds(run: Run, now: datetime) -> float | None:
    """Estimate the seconds left of a running run from its pace so far (None before the first step)."""
    if run.status != RunStatus.running or not run.started_at or run.steps_done <= 0:
        return None
    elapsed = (naive_utc(now) - naive_utc(run.started_at)).total_seconds()
    remaining = max(0, run.steps_total - run.steps_done)
    return max(0.0, elapsed / run.steps_done * remaining)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def load_runs(store: Store) -> list[Run]:
    return list_runs(store)


def new_step_metrics(store: Store, run_id: int, after_id: int) -> list[StepMetric]:
    """Return the curve points of ``run_id`` stored after row ``after_id`` (incremental refresh)."""
    query = (select(StepMetric).where(StepMetric.run_id == run_id, col(StepMetric.id) > after_id)
             .order_by(col(StepMetric.id)))
    with store.read() as session:
        return list(session.exec(query))


def latest_event(store: Store, run_id: int) -> RunEvent | None:
    """Return the newest event of ``run_id``: what the run is doing between steps."""
    query = select(RunEvent).where(RunEvent.run_id == run_id).order_by(col(RunEvent.id).desc()).limit(1)
    with store.read() as session:
        return session.exec(query).first()


def load_compare(store: Store, run_ids: list[int]) -> list[ReportGroup]:
    """Return the selected runs grouped by config apart from the seed, with curve metrics added."""
    runs = list_runs(store, ids=run_ids)
    metrics = metrics_by_run(store, run_ids)
    rows = []
    for run in runs:
        losses = [point.loss for point in new_step_metrics(store, run.id, 0)]
        add_curve_metrics(metrics[run.id], losses)
        rows.append(ReportRow(run, metrics[run.id]))
    return group_rows(rows)


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(flatten(value, path))
        else:
            flat[path] = value
    return flat


def config_diff(runs: list[Run]) -> list[tuple[str, list[Any]]]:
    """Return the config keys whose values differ between ``runs``, with each run's value."""
    flats = [flatten(json.loads(run.config_json)) for run in runs]
    keys = sorted(set().union(*flats)) if flats else []
    diff = []
    for key in keys:
        values = [flat.get(key) for flat in flats]
        if any(value != values[0] for value in values[1:]):
            diff.append((key, values))
    return diff


@dataclass
class RunDetail:
    """Everything the Run detail tab shows about one run."""

    run: Run
    metrics: dict[str, float]
    events: list[tuple[datetime, str, str]]
    checkpoints: list[Artifact]


def load_detail(store: Store, run_id: int) -> RunDetail | None:
    runs = list_runs(store, ids=[run_id])
    if not runs:
        return None
    events = [(event.created_at, event.level, event.message) for event in events_of(store, run_id)]
    checkpoints = [artifact for artifact in artifacts_of(store, run_id) if artifact.kind == "checkpoint"]
    return RunDetail(runs[0], metrics_by_run(store, [run_id])[run_id], events, checkpoints)


# --- workers ---------------------------------------------------------------------------------------

def start_detached_worker(db_path: Path, language: str) -> subprocess.CompletedProcess:
    """Run ``xmr worker --detach`` for ``db_path``, which returns once the worker is in the background."""
    command = [sys.executable, "-m", "xmr_tui.cli.main", "--lang", language, "worker", "--detach",
               "--db", str(db_path.resolve())]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
