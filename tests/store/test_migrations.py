"""Schema migrations: an experiments.db written by the first release opens and keeps its rows."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from xmr_tui.store import Store
from xmr_tui.store.migrations import LATEST_VERSION, SchemaTooNewError
from xmr_tui.store.runs import events_of, get_run, list_runs, metrics_by_run, steps_of

V1_DATABASE = Path(__file__).resolve().parent.parent / "fixtures" / "experiments_v1.db"


def columns(path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {table: sorted(row[1:4] for row in connection.execute(f"PRAGMA table_info({table})"))
                for table in tables}


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return connection.execute("PRAGMA user_version").fetchone()[0]


@pytest.fixture
def v1_copy(tmp_path: Path) -> Path:
    target = tmp_path / "experiments.db"
    shutil.copy(V1_DATABASE, target)
    return target


def test_v1_fixture_is_at_schema_version_1():
    assert user_version(V1_DATABASE) == 1


def test_v1_database_upgrades_and_keeps_rows(v1_copy: Path):
    store = Store(v1_copy)

    runs = list_runs(store)
    assert user_version(v1_copy) == LATEST_VERSION
    assert [(run.name, run.status.value, run.sequence) for run in runs] == [
        ("v1_finished", "finished", None), ("v1_queued", "queued", None)]
    assert metrics_by_run(store, [runs[0].id])[runs[0].id]["t2i/R@1"] == 40.0
    assert [step.loss for step in steps_of(store, runs[0].id)] == [2.5, 1.5]
    assert events_of(store, runs[0].id)[0].message == "v1 fixture event"
    assert get_run(store, runs[1].id).seed == 2


def test_upgraded_schema_matches_new_database(v1_copy: Path, tmp_path: Path):
    Store(v1_copy).close()
    Store(tmp_path / "new.db").close()

    assert columns(v1_copy) == columns(tmp_path / "new.db")


def test_reopening_upgraded_database_changes_nothing(v1_copy: Path):
    Store(v1_copy).close()
    before = columns(v1_copy)

    Store(v1_copy).close()

    assert columns(v1_copy) == before
    assert user_version(v1_copy) == LATEST_VERSION


def test_database_from_newer_xmr_is_rejected(tmp_path: Path):
    path = tmp_path / "future.db"
    Store(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version={LATEST_VERSION + 1}")

    with pytest.raises(SchemaTooNewError, match="upgrade xmr"):
        Store(path)
