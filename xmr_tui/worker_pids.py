"""The pid files through which workers of one store find each other.

Every worker writes ``workers/worker-<pid>.json`` beside the database with its pid, device,
worker id and log file, and removes it on exit. ``xmr worker status``, ``xmr worker stop`` and
the dashboard read these files to tell which workers are alive.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path


def workers_dir(db_path: Path) -> Path:
    """Return the folder of the pid files and detached-worker logs of the store at ``db_path``."""
    return db_path.resolve().parent / "workers"


def write_pid_file(db_path: Path, worker_id: str, device: str | None) -> Path:
    """Write this process's pid file for the store at ``db_path`` and return its path.

    The caller removes the file when the worker exits.
    """
    folder = workers_dir(db_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"worker-{os.getpid()}.json"
    log_file = os.environ.get("XMR_WORKER_LOG")
    path.write_text(json.dumps({"pid": os.getpid(), "worker_id": worker_id, "device": device, "log": log_file,
                                "db": str(db_path.resolve()), "started_at": datetime.now(timezone.utc).isoformat()}))
    return path


def live_workers(db_path: Path) -> list[dict]:
    """Return the records of workers whose process is alive, removing files of dead ones."""
    folder = workers_dir(db_path)
    records = []
    for path in sorted(folder.glob("worker-*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if is_alive(record["pid"]):
            records.append(record)
        else:
            path.unlink(missing_ok=True)
    return records


def is_alive(pid: int) -> bool:
    """Return whether process ``pid`` exists and has not exited."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    # An exited child that its parent has not reaped yet still accepts signal 0 (checked on Linux only).
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"
