"""The background worker: claim queued runs, train them with a lease, resume after crashes.

One worker uses one device. It claims a run, renews the run's lease from a heartbeat thread
(so long steps and evaluation do not let it expire), and trains it through the same
``engine.train.run`` as ``xmr run`` with a fenced ``StoreSink``. Checkpoints go to
``runs/<run_id>/`` beside the database; a run that another worker left behind resumes from
its last recorded checkpoint. SIGINT or SIGTERM stops the current run at the next step,
writes its checkpoint and step tail, and puts it back in the queue.

Run it with ``xmr worker`` (see ``xmr worker --help``).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import OperationalError

from engine.checkpoint import CheckpointError
from engine.config import ConfigError
from engine.data.records import DatasetError
from engine.train import NonFiniteLossError, RunResult
from engine.train import run as train_run
from xmr_tui.i18n import _
from xmr_tui.store import queue, runs
from xmr_tui.store.database import Store
from xmr_tui.store.models import Run, RunStatus
from xmr_tui.store.sink import StoreSink

log = logging.getLogger(__name__)

# Errors whose message already states what failed and what to change.
RUN_ERRORS = (NonFiniteLossError, CheckpointError, ConfigError, DatasetError, ValueError)


def default_worker_id(device: str | None) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{device or 'auto'}"


@dataclass
class WorkerOptions:
    device: str | None = None          # torch device for every run (None: CUDA when available, else CPU)
    lease_seconds: float = queue.DEFAULT_LEASE_SECONDS  # a run is re-queued this long after its last heartbeat
    poll_seconds: float = 2.0          # wait between claims while the queue is empty
    flush_every: int = 20              # step records per store transaction


class Heartbeat(threading.Thread):
    """Renews one run's lease every third of the lease until stopped or until the lease is lost."""

    def __init__(self, store: Store, run: Run, lease_seconds: float) -> None:
        super().__init__(name=f"heartbeat-run-{run.id}", daemon=True)
        self.store, self.run_id, self.fence = store, run.id, run.fence
        self.lease_seconds = lease_seconds
        self.lost = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.lease_seconds / 3):
            try:
                renewed = queue.renew_lease(self.store, self.run_id, self.fence, self.lease_seconds)
            except Exception as error:  # noqa: BLE001 (a busy or briefly unreachable store must not end the thread)
                log.warning("run %d: lease renewal failed (%s); retrying", self.run_id, error)
                continue
            if not renewed:
                log.warning("run %d: the lease with fencing token %d was lost (expired, cancelled or "
                            "claimed by another worker); stopping the run", self.run_id, self.fence)
                self.lost.set()
                return

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=5)


class WorkerSink(StoreSink):
    """A fenced StoreSink that also stops the run when the worker stops or the lease is lost."""

    def __init__(self, store: Store, run: Run, heartbeat: Heartbeat, stopping: threading.Event,
                 flush_every: int) -> None:
        super().__init__(store, run.id, flush_every=flush_every, fence=run.fence)
        self.heartbeat, self.stopping = heartbeat, stopping

    def event(self, level: str, message: str) -> None:
        """Store the event and log it too, so that a worker's log shows what it does between steps."""
        log.log(logging.WARNING if level == "warning" else logging.INFO, "run %d: %s", self.run_id, message)
        super().event(level, message)

    def should_stop(self) -> bool:
        return self.lease_lost or self.heartbeat.lost.is_set() or self.stopping.is_set()


class Worker:
    """Claims and trains queued runs one at a time on one device."""

    def __init__(self, store: Store, options: WorkerOptions | None = None, worker_id: str | None = None) -> None:
        self.store = store
        self.options = options or WorkerOptions()
        self.worker_id = worker_id or default_worker_id(self.options.device)
        self.stopping = threading.Event()

    def serve(self, *, drain: bool = False, max_runs: int | None = None) -> int:
        """Process runs until stopped, ``max_runs`` are done, or (with ``drain``) the queue is empty."""
        log.info("worker %s started on %s (store %s)", self.worker_id, self.options.device or "auto", self.store.path)
        processed = 0
        while not self.stopping.is_set() and (max_runs is None or processed < max_runs):
            try:
                claimed = queue.claim_next(self.store, self.worker_id, self.options.device,
                                           self.options.lease_seconds)
            except OperationalError as error:
                log.warning("worker %s: claiming a run failed (%s); retrying in %.0fs", self.worker_id, error,
                            self.options.poll_seconds)
                self.stopping.wait(self.options.poll_seconds)
                continue
            if claimed is None:
                if drain:
                    break
                self.stopping.wait(self.options.poll_seconds)
                continue
            self.process(claimed)
            processed += 1
        log.info("worker %s stopped after %d run(s)", self.worker_id, processed)
        return processed

    def install_signal_handlers(self) -> None:
        """Make SIGINT and SIGTERM stop the current run cleanly; a second signal quits at once.

        Call from the main thread. After a forced quit the run stays claimed until its lease
        expires, and another worker then resumes it from its last checkpoint.
        """
        def request_stop(signum: int, _frame) -> None:  # type: ignore[no-untyped-def]
            name = signal.Signals(signum).name
            if self.stopping.is_set():
                log.warning("worker %s: second %s; quitting without a checkpoint", self.worker_id, name)
                raise KeyboardInterrupt
            log.warning("worker %s: %s received; stopping after the current step (send it again to quit "
                        "at once)", self.worker_id, name)
            self.stopping.set()

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

    def process(self, run: Run) -> None:
        """Train one claimed run and record how it ended."""
        heartbeat = Heartbeat(self.store, run, self.options.lease_seconds)
        heartbeat.start()
        sink = WorkerSink(self.store, run, heartbeat, self.stopping, self.options.flush_every)
        checkpoint_path = self.store.run_dir(run.id) / f"checkpoint-{run.fence}.pt"
        try:
            result = self._train(run, sink, checkpoint_path)
        except runs.LeaseLostError as error:
            log.warning("run %d: %s", run.id, error)
            self._drop_unrecorded(run, checkpoint_path)
        except RUN_ERRORS as error:
            self._fail(run, str(error).strip().splitlines()[0])
        except Exception as error:  # noqa: BLE001 (one broken run must not stop the worker)
            log.exception("run %d failed", run.id)
            self._fail(run, f"{type(error).__name__}: {error}")
        else:
            self._conclude(run, result, heartbeat, checkpoint_path)
        finally:
            heartbeat.stop()

    def _train(self, run: Run, sink: WorkerSink, checkpoint_path: Path) -> RunResult:
        config = runs.run_config(run)
        resume_from = self._resume_point(run, sink)
        log.info("run %d: training %s on %s%s", run.id, run.name, self.options.device or "auto",
                 f", resuming from {resume_from}" if resume_from else "")
        return train_run(config, sink, device=self.options.device, checkpoint_path=checkpoint_path,
                         resume_from=resume_from)

    def _resume_point(self, run: Run, sink: WorkerSink) -> Path | None:
        """Return the run's last recorded checkpoint, dropping curve points logged after it."""
        artifact = runs.latest_checkpoint(self.store, run.id)
        if artifact is None or not Path(artifact.path).is_file():
            if artifact is not None:
                sink.event("warning", _("checkpoint {path} is missing; restarting from step 0").format(
                    path=artifact.path))
            resume_step = 0
            resume_from = None
        else:
            resume_step = artifact.step or 0
            resume_from = Path(artifact.path)
        dropped = runs.drop_steps_after(self.store, run.id, resume_step, fence=run.fence)
        if dropped:
            log.info("run %d: dropped %d curve points logged after step %d by an earlier attempt",
                     run.id, dropped, resume_step)
        return resume_from

    def _conclude(self, run: Run, result: RunResult, heartbeat: Heartbeat, checkpoint_path: Path) -> None:
        if not result.stopped_early:
            self._write_final(run, RunStatus.finished, None)
            log.info("run %d finished: %s", run.id, _headline(result.metrics))
        elif heartbeat.lost.is_set():
            self._drop_unrecorded(run, checkpoint_path)
        elif queue.release_run(self.store, run.id, run.fence, _("worker {id} stopped").format(id=self.worker_id)):
            log.warning("run %d: stopped at step %d and re-queued; it resumes from its checkpoint",
                        run.id, result.steps_done)

    def _fail(self, run: Run, message: str) -> None:
        log.error("run %d failed: %s", run.id, message)
        self._write_final(run, RunStatus.failed, message)

    def _write_final(self, run: Run, status: RunStatus, error: str | None) -> None:
        try:
            runs.finish_run(self.store, run.id, status, error, fence=run.fence)
        except runs.LeaseLostError as lost:
            log.warning("run %d: could not record it as %s: %s", run.id, status.value, lost)

    def _drop_unrecorded(self, run: Run, checkpoint_path: Path) -> None:
        # This attempt's checkpoint is useless once the run belongs to someone else, unless it
        # was recorded while the lease still held (the new owner may be resuming from it).
        latest = runs.latest_checkpoint(self.store, run.id)
        if latest is None or Path(latest.path) != checkpoint_path:
            checkpoint_path.unlink(missing_ok=True)


def _headline(metrics: dict[str, float]) -> str:
    keys = ("t2i/R@1", "i2t/R@1", "mean_recall")
    return ", ".join(f"{key} {metrics[key]:.2f}" for key in keys if key in metrics)
