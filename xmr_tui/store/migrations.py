"""Schema migrations of the experiment store, applied in order by ``PRAGMA user_version``.

Migration ``i`` moves a database from schema version ``i`` to ``i + 1``. Append new ones and
never edit a released one, so an experiments.db from any earlier xmr upgrades step by step.
A new database is created directly at the latest schema from the SQLModel tables, so the
last migration must leave an old database with the same columns as ``create_all`` would.
"""

from __future__ import annotations

import logging
from typing import Callable

from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from xmr_tui.i18n import _
from xmr_tui.store.datasets import add_dataset_table

from xmr_tui.store import models  # noqa: F401  (registers the tables on SQLModel.metadata)

log = logging.getLogger(__name__)

# The first released schema, frozen as SQL: ``create_all`` would build today's tables instead,
# and the later migrations would then add columns that already exist.
SCHEMA_V1 = """
    CREATE TABLE IF NOT EXISTS run (
        id INTEGER NOT NULL,
        name VARCHAR NOT NULL,
        status VARCHAR(9) NOT NULL,
        config_json VARCHAR NOT NULL,
        config_hash VARCHAR NOT NULL,
        summary VARCHAR NOT NULL,
        dataset VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        device VARCHAR,
        steps_total INTEGER NOT NULL,
        steps_done INTEGER NOT NULL,
        created_at DATETIME NOT NULL,
        started_at DATETIME,
        finished_at DATETIME,
        attempt INTEGER NOT NULL,
        max_attempts INTEGER NOT NULL,
        claimed_by VARCHAR,
        lease_expires_at DATETIME,
        heartbeat_at DATETIME,
        fence INTEGER NOT NULL,
        error VARCHAR,
        PRIMARY KEY (id)
    );
    CREATE INDEX IF NOT EXISTS ix_run_config_hash ON run (config_hash);
    CREATE INDEX IF NOT EXISTS ix_run_status ON run (status);
    CREATE TABLE IF NOT EXISTS stepmetric (
        id INTEGER NOT NULL,
        run_id INTEGER NOT NULL,
        step INTEGER NOT NULL,
        loss FLOAT NOT NULL,
        lr FLOAT NOT NULL,
        samples_per_s FLOAT NOT NULL,
        temperature FLOAT,
        temperature_i2t FLOAT,
        PRIMARY KEY (id),
        FOREIGN KEY(run_id) REFERENCES run (id)
    );
    CREATE INDEX IF NOT EXISTS ix_stepmetric_run_id ON stepmetric (run_id);
    CREATE TABLE IF NOT EXISTS runmetric (
        run_id INTEGER NOT NULL,
        name VARCHAR NOT NULL,
        value FLOAT NOT NULL,
        PRIMARY KEY (run_id, name),
        FOREIGN KEY(run_id) REFERENCES run (id)
    );
    CREATE TABLE IF NOT EXISTS runevent (
        id INTEGER NOT NULL,
        run_id INTEGER NOT NULL,
        created_at DATETIME NOT NULL,
        level VARCHAR NOT NULL,
        message VARCHAR NOT NULL,
        PRIMARY KEY (id),
        FOREIGN KEY(run_id) REFERENCES run (id)
    );
    CREATE INDEX IF NOT EXISTS ix_runevent_run_id ON runevent (run_id);
    CREATE TABLE IF NOT EXISTS artifact (
        id INTEGER NOT NULL,
        run_id INTEGER NOT NULL,
        kind VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        step INTEGER,
        created_at DATETIME NOT NULL,
        PRIMARY KEY (id),
        FOREIGN KEY(run_id) REFERENCES run (id)
    );
    CREATE INDEX IF NOT EXISTS ix_artifact_run_id ON artifact (run_id);
"""


class SchemaTooNewError(RuntimeError):
    """Raised when the database was written by a newer xmr than this one."""


def create_schema_v1(connection: Connection) -> None:
    for statement in SCHEMA_V1.split(";"):
        if statement.strip():
            connection.exec_driver_sql(statement)


def add_run_sequence(connection: Connection) -> None:
    # The sequence (named group of combos) a run was queued from, so reports can group by it.
    connection.exec_driver_sql("ALTER TABLE run ADD COLUMN sequence VARCHAR")


MIGRATIONS: list[Callable[[Connection], None]] = [create_schema_v1, add_run_sequence, add_dataset_table]
LATEST_VERSION = len(MIGRATIONS)


def schema_version(connection: Connection) -> int:
    return int(connection.exec_driver_sql("PRAGMA user_version").scalar() or 0)


def migrate(connection: Connection) -> None:
    """Create a new database at the latest schema, or apply an old one's pending migrations."""
    version = schema_version(connection)
    has_tables = connection.exec_driver_sql(
        "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='run'").scalar()
    if version == 0 and not has_tables:
        SQLModel.metadata.create_all(connection)
        connection.exec_driver_sql(f"PRAGMA user_version={LATEST_VERSION}")
        return
    if version > LATEST_VERSION:
        raise SchemaTooNewError(_("the store's schema version {version} is newer than this xmr's ({latest}); "
                                  "upgrade xmr to open it").format(version=version, latest=LATEST_VERSION))
    for number in range(version, LATEST_VERSION):
        log.info("migrating the store schema from version %d to %d", number, number + 1)
        MIGRATIONS[number](connection)
        connection.exec_driver_sql(f"PRAGMA user_version={number + 1}")
