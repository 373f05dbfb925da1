"""``StoreSink``: the engine's sink that writes a run's reports into the store.

Step records are buffered and written in batches (every ``flush_every`` records or
``flush_seconds``), so a run costs one transaction per batch, not one per step. A worker's
sink carries the run's fencing token: once a write is rejected the sink raises
``LeaseLostError`` into the engine, which stops the run there, and writes nothing more.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from engine.sink import RunSink, StepRecord
from xmr_tui.store import runs
from xmr_tui.store.database import Store

log = logging.getLogger(__name__)


class StoreSink(RunSink):
    def __init__(self, store: Store, run_id: int, flush_every: int = 20, flush_seconds: float = 2.0,
                 fence: int | None = None) -> None:
        self.store, self.run_id, self.fence = store, run_id, fence
        self.flush_every, self.flush_seconds = flush_every, flush_seconds
        self.buffer: list[StepRecord] = []
        self.last_flush = time.monotonic()
        self.lease_lost = False

    def step(self, record: StepRecord) -> None:
        self.buffer.append(record)
        if len(self.buffer) >= self.flush_every or time.monotonic() - self.last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        records, self.buffer = self.buffer, []
        self.last_flush = time.monotonic()
        self._write(runs.add_steps, records)

    def event(self, level: str, message: str) -> None:
        self._write(runs.add_event, level, message)

    def metrics(self, values: dict[str, float]) -> None:
        self.flush()
        self._write(runs.set_metrics, values)

    def checkpoint(self, path: str, step: int) -> None:
        self.flush()
        replaced = self._write(runs.record_checkpoint, path, step)
        for old in replaced:
            if old != path:
                Path(old).unlink(missing_ok=True)

    def should_stop(self) -> bool:
        return self.lease_lost

    def close(self) -> None:
        self.flush()

    def _write(self, write, *args):  # type: ignore[no-untyped-def]
        if self.lease_lost:
            raise runs.LeaseLostError(f"run {self.run_id}: this worker's lease was lost; not writing")
        try:
            return write(self.store, self.run_id, *args, fence=self.fence)
        except runs.LeaseLostError:
            self.lease_lost = True
            log.warning("run %d: a write was rejected because fencing token %s is stale; stopping the run",
                        self.run_id, self.fence)
            raise
