"""``StoreSink``: the engine's sink that writes a run's reports into the store.

Step records are buffered and written in batches (every ``flush_every`` records or
``flush_seconds``), so a run costs one transaction per batch, not one per step.
"""

from __future__ import annotations

import time

from engine.sink import RunSink, StepRecord
from xmr_tui.store import runs
from xmr_tui.store.database import Store


class StoreSink(RunSink):
    def __init__(self, store: Store, run_id: int, flush_every: int = 20, flush_seconds: float = 2.0) -> None:
        self.store, self.run_id = store, run_id
        self.flush_every, self.flush_seconds = flush_every, flush_seconds
        self.buffer: list[StepRecord] = []
        self.last_flush = time.monotonic()

    def step(self, record: StepRecord) -> None:
        self.buffer.append(record)
        if len(self.buffer) >= self.flush_every or time.monotonic() - self.last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        runs.add_steps(self.store, self.run_id, self.buffer)
        self.buffer = []
        self.last_flush = time.monotonic()

    def event(self, level: str, message: str) -> None:
        runs.add_event(self.store, self.run_id, level, message)

    def metrics(self, values: dict[str, float]) -> None:
        self.flush()
        runs.set_metrics(self.store, self.run_id, values)

    def checkpoint(self, path: str, step: int) -> None:
        self.flush()
        runs.add_artifact(self.store, self.run_id, "checkpoint", path, step)

    def close(self) -> None:
        self.flush()
