"""Opening the SQLite store: WAL mode, busy timeout, IMMEDIATE write transactions, migrations.

Writers take the database lock when their transaction begins (``BEGIN IMMEDIATE``) instead of
upgrading a read lock halfway, which is what produces "database is locked" under concurrent
workers. The busy timeout then makes a second writer wait instead of failing.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Iterator

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, create_engine

from xmr_tui.store.migrations import migrate

log = logging.getLogger(__name__)

DEFAULT_DB = "experiments.db"
BUSY_TIMEOUT_MS = 30_000
NETWORK_FILESYSTEMS = {"nfs", "nfs4", "cifs", "smbfs", "smb3", "sshfs", "fuse.sshfs", "9p", "afs", "lustre", "gpfs"}


def default_db_path() -> Path:
    """Return ``$XMR_DB`` or ``experiments.db`` in the working directory."""
    return Path(os.environ.get("XMR_DB", DEFAULT_DB))


def filesystem_type(path: Path, mounts_file: Path = Path("/proc/mounts")) -> str | None:
    """Return the type of the filesystem that contains ``path``, from /proc/mounts (Linux), else None."""
    try:
        mounts = mounts_file.read_text().splitlines()
    except OSError:
        return None
    target = path.resolve().parent
    best, kind = None, None
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        # /proc/mounts writes a space in a mount point as \040.
        mount_point = Path(parts[1].replace("\\040", " "))
        # A mount point must contain the target as a whole path (/work is not above /workspace).
        if target.is_relative_to(mount_point) and (best is None or len(mount_point.parts) > len(best.parts)):
            best, kind = mount_point, parts[2]
    return kind


class Store:
    """A handle on one experiments database: short sessions for reads and for writes."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else default_db_path()
        kind = filesystem_type(self.path)
        if kind in NETWORK_FILESYSTEMS:
            log.warning("%s is on a network filesystem (%s): SQLite WAL mode is unsafe there; "
                        "keep experiments.db on a local disk (--db or XMR_DB)", self.path, kind)
        url = f"sqlite:///{self.path}"
        self.writer = self._engine(url, immediate=True)
        self.reader = self._engine(url, immediate=False)
        with self.writer.begin() as connection:
            migrate(connection)

    @staticmethod
    def _engine(url: str, immediate: bool) -> Engine:
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def on_begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """Open a short write transaction, committed on success and rolled back on error."""
        with Session(self.writer, expire_on_commit=False) as session:
            with session.begin():
                yield session

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """Open a read-only session; its deferred transaction reads one consistent snapshot."""
        with Session(self.reader, expire_on_commit=False) as session:
            with session.begin():
                yield session

    @property
    def runs_dir(self) -> Path:
        """Return the folder beside the database that contains each run's checkpoints."""
        return self.path.resolve().parent / "runs"

    def run_dir(self, run_id: int) -> Path:
        return self.runs_dir / str(run_id)

    def close(self) -> None:
        self.writer.dispose()
        self.reader.dispose()
