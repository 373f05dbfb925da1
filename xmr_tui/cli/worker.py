"""``xmr worker``: train queued runs in the foreground or detached; show and stop workers.

Workers announce themselves through pid files (``xmr_tui.worker_pids``). A detached worker logs
to ``workers/worker-<start time>.log`` beside the database.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from xmr_tui.cli.common import DB_OPTION, CliError, console, one_line_errors, open_store
from xmr_tui.i18n import _, current_language
from xmr_tui.worker_pids import is_alive, live_workers, workers_dir, write_pid_file

app = typer.Typer(help="Train queued runs; show and stop background workers.")


@app.callback(invoke_without_command=True)
def worker(
    ctx: typer.Context,
    device: Optional[str] = typer.Option(None, "--device", help="cpu or cuda:N (default: CUDA when available)"),
    once: bool = typer.Option(False, "--once", help="exit when the queue is empty instead of waiting for runs"),
    detach: bool = typer.Option(False, "--detach", help="run in the background; see `xmr worker status`"),
    max_runs: Optional[int] = typer.Option(None, "--max-runs", min=1, help="exit after this many runs"),
    lease_seconds: float = typer.Option(30.0, "--lease-seconds", min=1.0, help="seconds without a heartbeat "
                                        "after which another worker may take over a run"),
    poll_seconds: float = typer.Option(2.0, "--poll-seconds", min=0.1, help="seconds between claims while the "
                                       "queue is empty"),
    db: Optional[Path] = DB_OPTION,
) -> None:
    """Train queued runs one at a time on one device (Ctrl-C stops after a checkpoint)."""
    if ctx.invoked_subcommand is not None:
        return
    with one_line_errors():
        store = open_store(db)
        if device:
            from engine.train import resolve_device

            resolve_device(device)
        _check_device_free(store.path, device)
        if detach:
            _start_detached(store.path, _worker_arguments(device, once, max_runs, lease_seconds, poll_seconds))
            return
    _serve(store, device, once, max_runs, lease_seconds, poll_seconds)


def _serve(store, device: str | None, once: bool, max_runs: int | None,  # type: ignore[no-untyped-def]
           lease_seconds: float, poll_seconds: float) -> None:
    from xmr_tui.worker import Worker, WorkerOptions

    _setup_worker_logging()
    options = WorkerOptions(device=device, lease_seconds=lease_seconds, poll_seconds=poll_seconds)
    runner = Worker(store, options)
    runner.install_signal_handlers()
    record = write_pid_file(store.path, runner.worker_id, device)
    try:
        processed = runner.serve(drain=once, max_runs=max_runs)
    finally:
        record.unlink(missing_ok=True)
    console.print(_("worker {id} processed {count} run(s)").format(id=runner.worker_id, count=processed),
                  highlight=False)


def _setup_worker_logging() -> None:
    # Plain timestamped lines: a worker's log is read later from a file more often than live.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _check_device_free(db_path: Path, device: str | None) -> None:
    # Two trainings on one GPU slow both down and may run it out of memory; CPU workers share cores.
    if not device or not device.startswith("cuda"):
        return
    for record in live_workers(db_path):
        if record.get("device") == device:
            raise CliError(_("worker pid {pid} already uses {device}; stop it with "
                             "`xmr worker stop --pid {pid}` or choose another --device").format(
                pid=record["pid"], device=device))


def _worker_arguments(device: str | None, once: bool, max_runs: int | None, lease_seconds: float,
                      poll_seconds: float) -> list[str]:
    arguments = ["worker", "--lease-seconds", str(lease_seconds), "--poll-seconds", str(poll_seconds)]
    if device:
        arguments += ["--device", device]
    if once:
        arguments.append("--once")
    if max_runs is not None:
        arguments += ["--max-runs", str(max_runs)]
    return arguments


def _start_detached(db_path: Path, arguments: list[str]) -> None:
    folder = workers_dir(db_path)
    folder.mkdir(parents=True, exist_ok=True)
    arguments = [*arguments, "--db", str(db_path.resolve())]
    log_path = folder / f"worker-{int(time.time() * 1000)}.log"
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            # The detached worker writes its run events in this process's language.
            [sys.executable, "-m", "xmr_tui.cli.main", "--lang", current_language(), *arguments],
            stdin=subprocess.DEVNULL,
            stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "XMR_WORKER_LOG": str(log_path)})
    time.sleep(1.0)
    if process.poll() is not None:
        raise CliError(_("the detached worker exited at once with status {status}; see {log}").format(
            status=process.returncode, log=log_path))
    console.print(_("worker started in the background: pid {pid}, log {log}").format(pid=process.pid, log=log_path),
                  highlight=False,
                  soft_wrap=True)


# --- status and stop ---------------------------------------------------------------------------

@app.command("status")
def status(db: Optional[Path] = DB_OPTION) -> None:
    """Show the workers of this store: pid, device, the run each is training, log file."""
    from xmr_tui.store import RunStatus
    from xmr_tui.store.runs import list_runs

    with one_line_errors():
        store = open_store(db)
        records = live_workers(store.path)
        running = {run.claimed_by: run for run in list_runs(store, statuses=[RunStatus.running])}
    if not records:
        console.print(_("no workers are running for {db}; start one with `xmr worker --detach`").format(db=store.path),
                      highlight=False)
        return
    table = Table(title=_("workers"))
    for column in ("pid", _("device"), _("run"), _("steps"), _("started")):
        table.add_column(column, no_wrap=True)
    table.add_column(_("log"), overflow="fold")  # a long path wraps instead of being cut with "…"
    for record in records:
        run = running.get(record["worker_id"])
        table.add_row(str(record["pid"]), record.get("device") or _("auto"),
                      f"{run.id} {run.name}" if run else _("idle"),
                      f"{run.steps_done}/{run.steps_total}" if run else "",
                      record["started_at"][:19], record.get("log") or _("(foreground)"))
    console.print(table)


@app.command("stop")
def stop(
    pid: Optional[int] = typer.Option(None, "--pid", help="stop only this worker (default: every worker)"),
    timeout: float = typer.Option(120.0, "--timeout", help="seconds to wait for each run to checkpoint and stop"),
    db: Optional[Path] = DB_OPTION,
) -> None:
    """Ask workers to stop (SIGTERM): each checkpoints its run, re-queues it and exits."""
    with one_line_errors():
        store = open_store(db)
        records = [r for r in live_workers(store.path) if pid is None or r["pid"] == pid]
        if not records:
            message = (_("no running worker with pid {pid} for {db}; see `xmr worker status`") if pid else
                       _("no running worker for {db}; see `xmr worker status`"))
            raise CliError(message.format(pid=pid, db=store.path))
        for record in records:
            os.kill(record["pid"], signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(is_alive(r["pid"]) for r in records):
            time.sleep(0.2)
        left = [str(r["pid"]) for r in records if is_alive(r["pid"])]
        if left:
            raise CliError(_("worker pid {pids} did not stop within {seconds:.0f}s; wait longer or kill it "
                             "(its run is re-queued when the lease expires)").format(pids=", ".join(left),
                                                                                     seconds=timeout))
    console.print(_("stopped {count} worker(s)").format(count=len(records)), highlight=False)
