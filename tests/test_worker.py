"""The worker: a run left behind by a dead worker resumes and ends like an uninterrupted run."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from engine.metrics import is_measurement
from engine.sink import StepRecord
from engine.train import NonFiniteLossError
from engine.train import run as train_run
from xmr_tui import worker as worker_module
from xmr_tui.store import RunStatus, Store, queue
from xmr_tui.store.runs import artifacts_of, get_run, metrics_by_run, steps_of
from xmr_tui.store.sink import StoreSink
from xmr_tui.worker import Heartbeat, Worker, WorkerOptions



class WorkerCrash(Exception):
    """A worker process killed right after logging a step."""


class CrashingSink(StoreSink):
    def __init__(self, *args, crash_after: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.crash_after = crash_after

    def step(self, record: StepRecord) -> None:
        super().step(record)
        if record.step >= self.crash_after:
            raise WorkerCrash(record.step)


def deterministic(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if not is_measurement(k)}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "experiments.db")


def test_run_of_dead_worker_resumes_with_same_metrics(store: Store, tiny_config):
    # Frozen backbones: the cached-feature path, with dropout in the heads drawing from the RNG.
    config = tiny_config(head={"dropout": 0.3}, train={"steps": 6, "log_every": 1, "checkpoint_every": 2})
    [queued] = queue.enqueue(store, [config])
    dead = queue.claim_next(store, "dead-worker", lease_seconds=0)
    sink = CrashingSink(store, dead.id, flush_every=1, fence=dead.fence, crash_after=3)
    with pytest.raises(WorkerCrash):
        train_run(config, sink, checkpoint_path=store.run_dir(dead.id) / f"checkpoint-{dead.fence}.pt")

    processed = Worker(store, WorkerOptions(device="cpu", lease_seconds=30)).serve(drain=True)

    run = get_run(store, queued.id)
    assert processed == 1
    assert (run.status, run.attempt, run.error) == (RunStatus.finished, 2, None)
    assert [step.step for step in steps_of(store, run.id)] == [1, 2, 3, 4, 5, 6]
    uninterrupted = train_run(config).metrics
    assert deterministic(metrics_by_run(store, [run.id])[run.id]) == deterministic(uninterrupted)
    [checkpoint] = [a for a in artifacts_of(store, run.id) if a.kind == "checkpoint"]
    assert checkpoint.step == 6
    assert sorted(p.name for p in store.run_dir(run.id).iterdir()) == [Path(checkpoint.path).name]


def test_stopping_worker_requeues_run_with_checkpoint(store: Store, tiny_config):
    [queued] = queue.enqueue(store, [tiny_config(train={"steps": 4})])
    worker = Worker(store, WorkerOptions(device="cpu"))
    worker.stopping.set()  # as SIGTERM does before the first step

    worker.process(queue.claim_next(store, worker.worker_id))

    run = get_run(store, queued.id)
    assert (run.status, run.attempt, run.claimed_by) == (RunStatus.queued, 0, None)
    assert [(a.kind, a.step) for a in artifacts_of(store, run.id)] == [("checkpoint", 0)]


def test_non_finite_loss_fails_run_with_step(store: Store, tiny_config, monkeypatch):
    [queued] = queue.enqueue(store, [tiny_config()])
    message = "loss became nan at step 3 (last finite loss 2.0794 at step 2); lower optim.lr"

    def diverge(*args, **kwargs):
        raise NonFiniteLossError(message)

    monkeypatch.setattr(worker_module, "train_run", diverge)
    Worker(store, WorkerOptions(device="cpu")).serve(drain=True)

    run = get_run(store, queued.id)
    assert run.status == RunStatus.failed
    assert run.error == message


def test_heartbeat_renews_lease_during_long_step(store: Store, tiny_config):
    queue.enqueue(store, [tiny_config()])
    run = queue.claim_next(store, "worker-a", lease_seconds=0.6)
    heartbeat = Heartbeat(store, run, lease_seconds=0.6)
    heartbeat.start()

    time.sleep(1.5)  # a step or an evaluation that outlasts the lease twice over

    assert queue.requeue_expired(store) == []
    heartbeat.stop()
    assert not heartbeat.lost.is_set()


def test_heartbeat_notices_cancelled_run(store: Store, tiny_config):
    queue.enqueue(store, [tiny_config()])
    run = queue.claim_next(store, "worker-a", lease_seconds=0.3)
    heartbeat = Heartbeat(store, run, lease_seconds=0.3)
    heartbeat.start()

    queue.cancel_run(store, run.id)

    assert heartbeat.lost.wait(timeout=2)
    heartbeat.stop()


def test_first_signal_stops_second_quits(store: Store):
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    worker = Worker(store, WorkerOptions(device="cpu"))
    worker.install_signal_handlers()
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # Python runs signal handlers between bytecodes of the main thread
        assert worker.stopping.is_set()

        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)
