"""The run queue: enqueue, atomic claims with leases, heartbeats, expiry, cancel and retry.

A worker owns a run while its lease lasts and renews it by heartbeat. Every change of owner
(claim, re-queue, release, cancel, retry) bumps the run's fencing token, so writes from a
previous owner are rejected (see ``runs.owned_run``). Each operation is one short
``BEGIN IMMEDIATE`` transaction: the database lock is taken before the row is read, so two
workers can never both see a run as queued and both claim it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import Session, col, or_, select, update

from engine.config import ExperimentConfig
from xmr_tui.i18n import _
from xmr_tui.store.database import Store
from xmr_tui.store.models import Run, RunEvent, RunStatus, utcnow
from xmr_tui.store.runs import RunNotFoundError, new_run

log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 30.0
FINAL_STATUSES = (RunStatus.finished, RunStatus.failed, RunStatus.cancelled)


class QueueStateError(ValueError):
    """Raised when a queue operation does not apply to a run's current status."""


def enqueue(store: Store, configs: list[ExperimentConfig], *, sequence: str | None = None,
            device: str | None = None, max_attempts: int = 3) -> list[Run]:
    """Queue one run per config in a single transaction; return them with their ids."""
    runs = [new_run(config, device=device, sequence=sequence, max_attempts=max_attempts) for config in configs]
    with store.write() as session:
        session.add_all(runs)
        session.flush()
        for run in runs:
            session.refresh(run)
    log.info("queued runs %s", ", ".join(str(run.id) for run in runs))
    return runs


def claim_next(store: Store, worker_id: str, device: str | None = None,
               lease_seconds: float = DEFAULT_LEASE_SECONDS) -> Run | None:
    """Claim the oldest queued run that is pinned to ``device`` or to no device; None if there is none.

    A worker without a device (``device=None``) only takes unpinned runs. Expired leases are
    re-queued first, in the same transaction.
    """
    now = utcnow()
    with store.write() as session:
        _requeue_expired(session, now)
        allowed = [col(Run.device).is_(None)] + ([Run.device == device] if device is not None else [])
        query = (select(Run).where(Run.status == RunStatus.queued, or_(*allowed))
                 .order_by(col(Run.id)).limit(1))
        run = session.exec(query).first()
        if run is None:
            return None
        run.status = RunStatus.running
        run.claimed_by = worker_id
        run.attempt += 1
        run.fence += 1
        run.lease_expires_at = now + timedelta(seconds=lease_seconds)
        run.heartbeat_at = now
        run.started_at = run.started_at or now
        session.add(RunEvent(run_id=run.id, level="info", message=_("claimed by {worker} (attempt {attempt} of "
                                                                     "{max})").format(
            worker=worker_id, attempt=run.attempt, max=run.max_attempts)))
    log.info("worker %s claimed run %d (attempt %d, fencing token %d)", worker_id, run.id, run.attempt, run.fence)
    return run


def renew_lease(store: Store, run_id: int, fence: int, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> bool:
    """Extend the lease of a run still owned under ``fence``; return whether it was."""
    now = utcnow()
    statement = (update(Run)
                 .where(col(Run.id) == run_id, col(Run.fence) == fence, col(Run.status) == RunStatus.running)
                 .values(lease_expires_at=now + timedelta(seconds=lease_seconds), heartbeat_at=now))
    with store.write() as session:
        return session.exec(statement).rowcount == 1


def requeue_expired(store: Store) -> list[int]:
    """Re-queue (or fail, after ``max_attempts``) running runs whose lease has expired; return their ids."""
    with store.write() as session:
        return _requeue_expired(session, utcnow())


def _requeue_expired(session: Session, now: datetime) -> list[int]:
    query = select(Run).where(Run.status == RunStatus.running, col(Run.lease_expires_at) < now)
    expired = list(session.exec(query))
    for run in expired:
        owner = run.claimed_by
        if run.attempt >= run.max_attempts:
            run.status = RunStatus.failed
            run.finished_at = now
            run.error = _("lease expired on attempt {attempt} of {max} ({owner} stopped renewing it); "
                          "`xmr queue retry {id}` resumes it from its last checkpoint").format(
                attempt=run.attempt, max=run.max_attempts, owner=owner, id=run.id)
            message, level = run.error, "error"
        else:
            run.status = RunStatus.queued
            message = _("lease of {owner} expired at step {step}; re-queued").format(owner=owner, step=run.steps_done)
            level = "warning"
        run.fence += 1
        run.claimed_by = None
        run.lease_expires_at = None
        session.add(RunEvent(run_id=run.id, level=level, message=message))
        log.warning("run %d: %s", run.id, message)
    return [run.id for run in expired]


def release_run(store: Store, run_id: int, fence: int, reason: str) -> bool:
    """Put a cleanly stopped run back in the queue without counting the attempt; return whether it was owned."""
    with store.write() as session:
        run = session.get(Run, run_id)
        if run is None or run.fence != fence or run.status != RunStatus.running:
            return False
        run.status = RunStatus.queued
        run.attempt = max(0, run.attempt - 1)
        run.fence += 1
        run.claimed_by = None
        run.lease_expires_at = None
        session.add(RunEvent(run_id=run_id, level="warning", message=_("{reason}; re-queued at step {step}").format(
            reason=reason, step=run.steps_done)))
    return True


def cancel_run(store: Store, run_id: int) -> Run:
    """Cancel a queued or running run; a running one's worker stops at its next heartbeat."""
    with store.write() as session:
        run = _get(session, run_id)
        if run.status in FINAL_STATUSES:
            raise QueueStateError(_("run {id} is already {status}; only queued or running runs can be "
                                    "cancelled").format(id=run_id, status=_(run.status.value)))
        run.status = RunStatus.cancelled
        run.fence += 1
        run.claimed_by = None
        run.lease_expires_at = None
        run.finished_at = utcnow()
        session.add(RunEvent(run_id=run_id, level="warning", message=_("cancelled by the user")))
    return run


def retry_run(store: Store, run_id: int) -> Run:
    """Queue a failed or cancelled run again with a fresh attempt count; it resumes from its checkpoint."""
    with store.write() as session:
        run = _get(session, run_id)
        if run.status not in (RunStatus.failed, RunStatus.cancelled):
            raise QueueStateError(_("run {id} is {status}; only failed or cancelled runs can be retried").format(
                id=run_id, status=_(run.status.value)))
        run.status = RunStatus.queued
        run.attempt = 0
        run.fence += 1
        run.error = None
        run.finished_at = None
        session.add(RunEvent(run_id=run_id, level="info", message=_("queued again by the user")))
    return run


def _get(session: Session, run_id: int) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise RunNotFoundError(_("no run with id {id}; see `xmr queue list`").format(id=run_id))
    return run
