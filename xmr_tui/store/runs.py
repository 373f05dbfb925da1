"""Reading and writing runs: create, record steps/metrics/events/checkpoints, finish, list.

Every write takes an optional fencing token. A worker passes the token it claimed the run
with. The write then checks, inside its own IMMEDIATE transaction, that the run is still
``running`` under that token, and raises ``LeaseLostError`` otherwise. So a worker whose lease
expired, and whose run another worker may now own, cannot overwrite anything.
"""

from __future__ import annotations

import json
from typing import Iterable

from sqlmodel import Session, col, delete, select

from engine.config import ExperimentConfig, config_from_dict, summary_line
from engine.sink import StepRecord
from xmr_tui.i18n import _
from xmr_tui.store.database import Store
from xmr_tui.store.models import Artifact, Run, RunEvent, RunMetric, RunStatus, StepMetric, utcnow

CHECKPOINT = "checkpoint"


class RunNotFoundError(LookupError):
    """Raised when a run id does not exist in the store."""


class LeaseLostError(RuntimeError):
    """Raised when a worker writes for a run it no longer owns (its fencing token is stale)."""


def owned_run(session: Session, run_id: int, fence: int | None) -> Run:
    """Return run ``run_id`` for writing, checking ``fence`` when one is given."""
    run = session.get(Run, run_id)
    if run is None:
        raise RunNotFoundError(_("no run with id {id}; see `xmr runs list`").format(id=run_id))
    if fence is not None and (run.fence != fence or run.status != RunStatus.running):
        raise LeaseLostError(f"run {run_id}: write with fencing token {fence} rejected (the run is "
                             f"{run.status.value} with token {run.fence}); this worker no longer owns it")
    return run


def new_run(config: ExperimentConfig, *, status: RunStatus = RunStatus.queued, device: str | None = None,
            sequence: str | None = None, max_attempts: int = 3) -> Run:
    """Return an unsaved run row for ``config``."""
    return Run(name=config.name, status=status, config_json=json.dumps(config.to_dict(), ensure_ascii=False),
               config_hash=config.config_hash(), summary=summary_line(config), dataset=config.data.dataset,
               seed=config.train.seed, device=device, steps_total=config.train.steps, sequence=sequence,
               max_attempts=max_attempts)


def create_run(store: Store, config: ExperimentConfig, *, status: RunStatus = RunStatus.queued,
               device: str | None = None) -> Run:
    """Insert a run for ``config`` and return it (with its id)."""
    run = new_run(config, status=status, device=device)
    if status == RunStatus.running:
        run.started_at = utcnow()
        run.attempt = 1
    with store.write() as session:
        session.add(run)
        session.flush()
        session.refresh(run)
    return run


def run_config(run: Run) -> ExperimentConfig:
    """Rebuild and validate the resolved config stored with ``run``."""
    return config_from_dict(_without_nulls(json.loads(run.config_json)))


def _without_nulls(tree: dict) -> dict:
    # Every optional config field defaults to None, so leaving nulls out restores the same
    # config, and the validator need not accept an explicit null for each optional field.
    return {key: _without_nulls(value) if isinstance(value, dict) else value
            for key, value in tree.items() if value is not None}


def get_run(store: Store, run_id: int) -> Run:
    with store.read() as session:
        run = session.get(Run, run_id)
    if run is None:
        raise RunNotFoundError(_("no run with id {id}; see `xmr runs list`").format(id=run_id))
    return run


def list_runs(store: Store, statuses: Iterable[RunStatus] | None = None, ids: Iterable[int] | None = None) -> list[Run]:
    query = select(Run).order_by(col(Run.id))
    if statuses is not None:
        query = query.where(col(Run.status).in_(list(statuses)))
    if ids is not None:
        query = query.where(col(Run.id).in_(list(ids)))
    with store.read() as session:
        return list(session.exec(query))


def add_steps(store: Store, run_id: int, records: list[StepRecord], fence: int | None = None) -> None:
    """Append a batch of curve points in one transaction and advance ``steps_done``."""
    if not records:
        return
    with store.write() as session:
        run = owned_run(session, run_id, fence)
        for record in records:
            temperatures = record.temperatures
            session.add(StepMetric(
                run_id=run_id, step=record.step, loss=record.loss, lr=record.lr,
                samples_per_s=record.samples_per_s,
                temperature=temperatures.get("temperature", temperatures.get("temperature_t2i")),
                temperature_i2t=temperatures.get("temperature_i2t")))
        run.steps_done = max(run.steps_done, records[-1].step)


def drop_steps_after(store: Store, run_id: int, step: int, fence: int | None = None) -> int:
    """Delete curve points past ``step`` (logged by an attempt that died before checkpointing them)."""
    with store.write() as session:
        run = owned_run(session, run_id, fence)
        result = session.exec(delete(StepMetric).where(StepMetric.run_id == run_id, col(StepMetric.step) > step))
        run.steps_done = step
        return result.rowcount


def add_event(store: Store, run_id: int, level: str, message: str, fence: int | None = None) -> None:
    with store.write() as session:
        owned_run(session, run_id, fence)
        session.add(RunEvent(run_id=run_id, level=level, message=message))


def set_metrics(store: Store, run_id: int, values: dict[str, float], fence: int | None = None) -> None:
    """Store final metrics, replacing earlier values of the same names."""
    with store.write() as session:
        owned_run(session, run_id, fence)
        for name, value in values.items():
            existing = session.get(RunMetric, (run_id, name))
            if existing is None:
                session.add(RunMetric(run_id=run_id, name=name, value=float(value)))
            else:
                existing.value = float(value)


def add_artifact(store: Store, run_id: int, kind: str, path: str, step: int | None) -> None:
    with store.write() as session:
        session.add(Artifact(run_id=run_id, kind=kind, path=path, step=step))


def record_checkpoint(store: Store, run_id: int, path: str, step: int, fence: int | None = None) -> list[str]:
    """Make ``path`` the run's one checkpoint artefact; return the paths it replaces.

    The caller deletes the returned files once this commits, so a crash in between leaves
    extra files, never a run without a recorded checkpoint.
    """
    with store.write() as session:
        owned_run(session, run_id, fence)
        query = select(Artifact).where(Artifact.run_id == run_id, Artifact.kind == CHECKPOINT)
        replaced = []
        current = None
        for artifact in session.exec(query):
            if artifact.path == path:
                current = artifact
            else:
                replaced.append(artifact.path)
                session.delete(artifact)
        if current is None:
            session.add(Artifact(run_id=run_id, kind=CHECKPOINT, path=path, step=step))
        else:
            current.step, current.created_at = step, utcnow()
    return replaced


def latest_checkpoint(store: Store, run_id: int) -> Artifact | None:
    query = (select(Artifact).where(Artifact.run_id == run_id, Artifact.kind == CHECKPOINT)
             .order_by(col(Artifact.step).desc(), col(Artifact.id).desc()))
    with store.read() as session:
        return session.exec(query).first()


def finish_run(store: Store, run_id: int, status: RunStatus, error: str | None = None,
               fence: int | None = None) -> None:
    """Set a final status and drop the lease (checked against ``fence`` when given)."""
    with store.write() as session:
        run = owned_run(session, run_id, fence)
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


def artifacts_of(store: Store, run_id: int) -> list[Artifact]:
    with store.read() as session:
        return list(session.exec(select(Artifact).where(Artifact.run_id == run_id).order_by(col(Artifact.id))))
