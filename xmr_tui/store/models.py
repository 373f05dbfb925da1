"""SQLModel tables of the experiment store: runs, their step curves, metrics, events, artefacts."""

from __future__ import annotations

import enum
from datetime import datetime, timezone

from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class RunStatus(str, enum.Enum):
    queued = "queued"
    running = "running"
    finished = "finished"
    failed = "failed"
    cancelled = "cancelled"


class Run(SQLModel, table=True):
    """One training run of one resolved config and seed."""

    id: int | None = Field(default=None, primary_key=True)
    name: str                                   # config name shown in reports
    status: RunStatus = Field(default=RunStatus.queued, index=True)
    config_json: str                            # the resolved ExperimentConfig as JSON
    config_hash: str = Field(index=True)        # stable hash of everything but the name
    summary: str = ""                           # one-line config summary
    dataset: str = ""
    seed: int = 0
    device: str | None = None                   # device requested for the run (None = automatic)
    steps_total: int = 0
    steps_done: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempt: int = 0                            # how many times a worker has claimed it
    max_attempts: int = 3
    claimed_by: str | None = None               # worker id holding the lease
    lease_expires_at: datetime | None = None
    heartbeat_at: datetime | None = None
    # Fencing token, bumped whenever ownership changes (claim, re-queue, release, cancel, retry).
    # A worker's writes carry the token it claimed with, and are rejected once it is stale.
    fence: int = 0
    error: str | None = None
    sequence: str | None = None                 # sequence the run was queued from (schema v2)


class StepMetric(SQLModel, table=True):
    """One logged point of the training curves."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    step: int
    loss: float
    lr: float
    samples_per_s: float
    temperature: float | None = None            # τ (text→image τ when learned per direction)
    temperature_i2t: float | None = None        # image→text τ when learned per direction


class RunMetric(SQLModel, table=True):
    """A final metric or measurement of a run (``t2i/R@1``, ``train/seconds``, …)."""

    run_id: int = Field(foreign_key="run.id", primary_key=True)
    name: str = Field(primary_key=True)
    value: float


class RunEvent(SQLModel, table=True):
    """A log line of a run a user may want later."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    level: str
    message: str


class Artifact(SQLModel, table=True):
    """A file a run produced (checkpoints)."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    kind: str                                   # "checkpoint"
    path: str
    step: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
