"""Synthetic store rows for dashboard tests: fixed timestamps, metrics and curve points."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from engine.config import config_from_dict
from xmr_tui.store.database import Store
from xmr_tui.store.models import Run, RunEvent, RunMetric, RunStatus, StepMetric
from xmr_tui.store.runs import new_run

T0 = datetime(2026, 1, 5, 9, 0, 0, tzinfo=timezone.utc)


def add_run(store: Store, name: str, status: RunStatus, *, seed: int = 0, steps_done: int = 0,
            metrics: dict[str, float] | None = None, learnable: str = "fixed", lr: float = 1e-3) -> Run:
    """Insert one run of a small config with fixed timestamps and optional final metrics."""
    config = config_from_dict({"name": name, "train": {"steps": 100, "seed": seed},
                               "similarity": {"learnable": learnable}, "optim": {"lr": lr}})
    run = new_run(config, status=status)
    run.created_at = T0
    run.steps_done = steps_done
    if status != RunStatus.queued:
        run.started_at = T0 + timedelta(minutes=1)
        run.attempt = 1
    if status in (RunStatus.finished, RunStatus.failed, RunStatus.cancelled):
        run.finished_at = T0 + timedelta(minutes=11)
    with store.write() as session:
        session.add(run)
        session.flush()
        session.refresh(run)
        session.add(RunEvent(run_id=run.id, created_at=T0, level="info", message=f"created {name}"))
        for key, value in (metrics or {}).items():
            session.add(RunMetric(run_id=run.id, name=key, value=value))
    return run


def add_points(store: Store, run_id: int, steps: range, temperature: bool = False) -> None:
    """Insert curve points with a falling loss and a constant learning rate."""
    with store.write() as session:
        for step in steps:
            session.add(StepMetric(run_id=run_id, step=step, loss=4.0 / (1 + step / 10), lr=1e-3,
                                   samples_per_s=500.0, temperature=0.07 - step * 1e-4 if temperature else None))
        run = session.get(Run, run_id)
        run.steps_done = max(run.steps_done, steps[-1])


def metric_set(base: float) -> dict[str, float]:
    keys = ["t2i/R@1", "t2i/R@5", "t2i/R@10", "i2t/R@1", "i2t/R@5", "i2t/R@10", "mean_recall",
            "t2i/mAP", "t2i/NDCG@10"]
    values = {key: round(base + index, 2) for index, key in enumerate(keys)}
    values["t2i/latency_p50_ms"] = 0.5
    return values


def stored_config(run: Run) -> dict:
    return json.loads(run.config_json)
