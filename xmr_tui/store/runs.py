"""Reading and writing runs: create, record steps/metrics/events, finish, list."""

from __future__ import annotations

import json
from typing import Iterable

from sqlmodel import col, select

from engine.config import ExperimentConfig, summary_line
from engine.sink import StepRecord
from xmr_tui.store.database import Store
from xmr_tui.store.models import Artifact, Run, RunEvent, RunMetric, RunStatus, StepMetric, utcnow


class RunNotFoundError(LookupError):
    """Raised when a run id does not exist in the store."""


def create_run(store: Store, config: ExperimentConfig, *, status: RunStatus = RunStatus.queued,
               device: str | None = None) -> Run:
    """Insert a run for ``config`` and return it (with its id)."""
    run = Run(name=config.name, status=status, config_json=json.dumps(config.to_dict(), ensure_ascii=False),
              config_hash=config.config_hash(), summary=summary_line(config), dataset=config.data.dataset,
              seed=config.train.seed, device=device, steps_total=config.train.steps)
    if status == RunStatus.running:
        run.started_at = utcnow()
        run.attempt = 1
    with store.write() as session:
        session.add(run)
        session.flush()
        session.refresh(run)
    return run


def get_run(store: Store, run_id: int) -> Run:
    with store.read() as session:
        run = session.get(Run, run_id)
    if run is None:
        raise RunNotFoundError(f"no run with id {run_id}; see `xmr runs list`")
    return run


def list_runs(store: Store, statuses: Iterable[RunStatus] | None = None, ids: Iterable[int] | None = None) -> list[Run]:
    query = select(Run).order_by(col(Run.id))
    if statuses is not None:
        query = query.where(col(Run.status).in_(list(statuses)))
    if ids is not None:
        query = query.where(col(Run.id).in_(list(ids)))
    with store.read() as session:
        return list(session.exec(query))


def add_steps(store: Store, run_id: int, records: list[StepRecord]) -> None:
    """Append a batch of curve points in one transaction and advance ``steps_done``."""
    if not records:
        return
    with store.write() as session:
        for record in records:
            temperatures = record.temperatures
            session.add(StepMetric(
                run_id=run_id, step=record.step, loss=record.loss, lr=record.lr,
                samples_per_s=record.samples_per_s,
                temperature=temperatures.get("temperature", temperatures.get("temperature_t2i")),
                temperature_i2t=temperatures.get("temperature_i2t")))
        run = session.get(Run, run_id)
        run.steps_done = max(run.steps_done, records[-1].step)
        run.heartbeat_at = utcnow()


def add_event(store: Store, run_id: int, level: str, message: str) -> None:
    with store.write() as session:
        session.add(RunEvent(run_id=run_id, level=level, message=message))


def set_metrics(store: Store, run_id: int, values: dict[str, float]) -> None:
    """Store final metrics, replacing earlier values of the same names."""
    with store.write() as session:
        for name, value in values.items():
            existing = session.get(RunMetric, (run_id, name))
            if existing is None:
                session.add(RunMetric(run_id=run_id, name=name, value=float(value)))
            else:
                existing.value = float(value)


def add_artifact(store: Store, run_id: int, kind: str, path: str, step: int | None) -> None:
    with store.write() as session:
        session.add(Artifact(run_id=run_id, kind=kind, path=path, step=step))


def finish_run(store: Store, run_id: int, status: RunStatus, error: str | None = None) -> None:
    with store.write() as session:
        run = session.get(Run, run_id)
        run.status = status
        run.error = error
        run.finished_at = utcnow()
        run.claimed_by = None
        run.lease_expires_at = None


def metrics_by_run(store: Store, run_ids: Iterable[int]) -> dict[int, dict[str, float]]:
    ids = list(run_ids)
    result: dict[int, dict[str, float]] = {i: {} for i in ids}
    with store.read() as session:
        for row in session.exec(select(RunMetric).where(col(RunMetric.run_id).in_(ids))):
            result[row.run_id][row.name] = row.value
    return result


def steps_of(store: Store, run_id: int) -> list[StepMetric]:
    with store.read() as session:
        return list(session.exec(select(StepMetric).where(StepMetric.run_id == run_id).order_by(col(StepMetric.step))))


def events_of(store: Store, run_id: int) -> list[RunEvent]:
    with store.read() as session:
        return list(session.exec(select(RunEvent).where(RunEvent.run_id == run_id).order_by(col(RunEvent.id))))
