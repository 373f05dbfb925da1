"""The run queue: atomic claims, lease expiry, fencing of stale workers, cancel and retry."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from engine.config import config_from_dict
from engine.sink import StepRecord
from xmr_tui.store import RunStatus, Store
from xmr_tui.store import queue
from xmr_tui.store.runs import LeaseLostError, add_steps, finish_run, get_run, set_metrics, steps_of
from xmr_tui.store.sink import StoreSink


def configs(count: int):
    return [config_from_dict({"name": f"run{seed}", "train": {"seed": seed}}) for seed in range(count)]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "experiments.db")


def test_concurrent_workers_never_claim_same_run(tmp_path: Path):
    path = tmp_path / "experiments.db"
    queued = {run.id for run in queue.enqueue(Store(path), configs(24))}
    claims: dict[str, list[int]] = {}
    start = threading.Barrier(4)

    def work(name: str) -> None:
        store = Store(path)  # one Store (own connections) per worker, as separate processes would have
        start.wait()
        mine = claims.setdefault(name, [])
        while (run := queue.claim_next(store, name)) is not None:
            mine.append(run.id)

    threads = [threading.Thread(target=work, args=(f"worker-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    claimed = [run_id for ids in claims.values() for run_id in ids]
    assert sorted(claimed) == sorted(queued)
    assert len(set(claimed)) == len(claimed)


def test_claim_sets_lease_and_bumps_fence(store: Store):
    [queued] = queue.enqueue(store, configs(1))

    run = queue.claim_next(store, "worker-a", lease_seconds=60)

    assert run.id == queued.id
    assert run.status == RunStatus.running
    assert (run.claimed_by, run.attempt, run.fence) == ("worker-a", 1, 1)
    assert run.lease_expires_at > run.heartbeat_at
    assert queue.claim_next(store, "worker-b") is None


def test_claim_skips_runs_pinned_to_other_device(store: Store):
    queue.enqueue(store, configs(1), device="cuda:1")

    assert queue.claim_next(store, "worker-a", device="cuda:0") is None
    assert queue.claim_next(store, "worker-auto", device=None) is None
    assert queue.claim_next(store, "worker-b", device="cuda:1") is not None


def test_expired_lease_is_requeued_and_claimed_again(store: Store):
    queue.enqueue(store, configs(1))
    first = queue.claim_next(store, "worker-a", lease_seconds=0)

    second = queue.claim_next(store, "worker-b", lease_seconds=60)

    assert second.id == first.id
    assert (second.claimed_by, second.attempt) == ("worker-b", 2)
    assert second.fence == first.fence + 2  # re-queue and claim each change the owner


def test_expired_lease_fails_run_after_max_attempts(store: Store):
    queue.enqueue(store, configs(1), max_attempts=1)
    run = queue.claim_next(store, "worker-a", lease_seconds=0)

    assert queue.requeue_expired(store) == [run.id]

    failed = get_run(store, run.id)
    assert failed.status == RunStatus.failed
    assert "lease expired on attempt 1 of 1" in failed.error
    assert queue.claim_next(store, "worker-b") is None


def test_heartbeat_keeps_lease_until_fence_changes(store: Store):
    queue.enqueue(store, configs(1))
    run = queue.claim_next(store, "worker-a", lease_seconds=60)

    assert queue.renew_lease(store, run.id, run.fence, lease_seconds=60)
    assert queue.requeue_expired(store) == []
    queue.cancel_run(store, run.id)
    assert not queue.renew_lease(store, run.id, run.fence, lease_seconds=60)


def test_stale_worker_writes_are_rejected(store: Store):
    queue.enqueue(store, configs(1))
    stale = queue.claim_next(store, "worker-a", lease_seconds=0)
    current = queue.claim_next(store, "worker-b", lease_seconds=60)
    record = StepRecord(step=5, loss=1.0, lr=0.1, samples_per_s=10.0)

    with pytest.raises(LeaseLostError, match="fencing token 1 rejected"):
        add_steps(store, stale.id, [record], fence=stale.fence)
    with pytest.raises(LeaseLostError):
        set_metrics(store, stale.id, {"t2i/R@1": 99.0}, fence=stale.fence)
    with pytest.raises(LeaseLostError):
        finish_run(store, stale.id, RunStatus.finished, fence=stale.fence)

    add_steps(store, current.id, [record], fence=current.fence)
    assert [step.step for step in steps_of(store, current.id)] == [5]
    assert get_run(store, current.id).status == RunStatus.running


def test_store_sink_stops_run_after_rejected_write(store: Store):
    queue.enqueue(store, configs(1))
    stale = queue.claim_next(store, "worker-a", lease_seconds=0)
    queue.claim_next(store, "worker-b", lease_seconds=60)
    sink = StoreSink(store, stale.id, flush_every=1, fence=stale.fence)

    with pytest.raises(LeaseLostError):
        sink.step(StepRecord(step=1, loss=1.0, lr=0.1, samples_per_s=10.0))

    assert sink.should_stop()
    with pytest.raises(LeaseLostError):
        sink.event("info", "late")
    assert steps_of(store, stale.id) == []


def test_released_run_is_requeued_without_counting_attempt(store: Store):
    queue.enqueue(store, configs(1))
    run = queue.claim_next(store, "worker-a")

    assert queue.release_run(store, run.id, run.fence, "worker stopping")

    released = get_run(store, run.id)
    assert (released.status, released.attempt, released.claimed_by) == (RunStatus.queued, 0, None)
    assert not queue.release_run(store, run.id, run.fence, "again")


def test_cancel_and_retry_follow_status_rules(store: Store):
    [run] = queue.enqueue(store, configs(1))

    assert queue.cancel_run(store, run.id).status == RunStatus.cancelled
    with pytest.raises(queue.QueueStateError, match="already cancelled"):
        queue.cancel_run(store, run.id)
    retried = queue.retry_run(store, run.id)
    assert (retried.status, retried.attempt, retried.error) == (RunStatus.queued, 0, None)
    with pytest.raises(queue.QueueStateError, match="only failed or cancelled"):
        queue.retry_run(store, run.id)
