"""The sink: how a training run reports progress without knowing who listens.

``engine.train.run`` reports steps, events, metrics and checkpoints to a ``RunSink``. The CLI
passes one that draws a progress bar and writes the store; a notebook can pass ``PrintSink``.
The engine never imports the store, the CLI or the TUI.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class StepRecord:
    step: int                      # optimizer steps completed (1-based)
    loss: float                    # mean training loss over the steps since the last record
    lr: float                      # learning rate of the heads' parameter group
    samples_per_s: float           # training pairs per second over the same window
    temperatures: dict[str, float] = field(default_factory=dict)  # current τ value(s)


class RunSink:
    """Receives a run's reports; every method is optional (the base class ignores them)."""

    def start(self, summary: str, total_steps: int) -> None:
        """Called once when training starts, with the one-line config summary."""

    def step(self, record: StepRecord) -> None:
        """Called every ``train.log_every`` steps."""

    def event(self, level: str, message: str) -> None:
        """Record a log line the user may want later, at level ``info``, ``warning`` or ``error``."""

    def metrics(self, values: dict[str, float]) -> None:
        """Final evaluation metrics and measurements, flat ``name → value``."""

    def checkpoint(self, path: str, step: int) -> None:
        """Record that a checkpoint was written to ``path`` at ``step``."""

    def should_stop(self) -> bool:
        """Return True to stop training cleanly at the next step boundary."""
        return False

    def close(self) -> None:
        """Flush anything buffered."""


class PrintSink(RunSink):
    """Logs everything through ``logging``: for scripts and notebooks."""

    def start(self, summary: str, total_steps: int) -> None:
        log.info("training %d steps: %s", total_steps, summary)

    def step(self, record: StepRecord) -> None:
        temperatures = "".join(f" {name} {value:.4g}" for name, value in record.temperatures.items())
        log.info("step %d loss %.4f lr %.3g %.0f samples/s%s", record.step, record.loss, record.lr,
                 record.samples_per_s, temperatures)

    def event(self, level: str, message: str) -> None:
        log.log(logging.getLevelName(level.upper()), message)

    def metrics(self, values: dict[str, float]) -> None:
        log.info("metrics: %s", ", ".join(f"{k}={v:.4g}" for k, v in values.items()))


class CompositeSink(RunSink):
    """Forwards every report to several sinks, and stops when any of them requests a stop."""

    def __init__(self, *sinks: RunSink) -> None:
        self.sinks = sinks

    def start(self, summary: str, total_steps: int) -> None:
        for sink in self.sinks:
            sink.start(summary, total_steps)

    def step(self, record: StepRecord) -> None:
        for sink in self.sinks:
            sink.step(record)

    def event(self, level: str, message: str) -> None:
        for sink in self.sinks:
            sink.event(level, message)

    def metrics(self, values: dict[str, float]) -> None:
        for sink in self.sinks:
            sink.metrics(values)

    def checkpoint(self, path: str, step: int) -> None:
        for sink in self.sinks:
            sink.checkpoint(path, step)

    def should_stop(self) -> bool:
        return any(sink.should_stop() for sink in self.sinks)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
