"""A Rich progress bar as an engine sink: step, loss, LR and samples/s while a run trains."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from engine.sink import RunSink, StepRecord
from xmr_tui.i18n import _


class ProgressSink(RunSink):
    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress: Progress | None = None
        self.task = None
        self.started_training = False

    def start(self, summary: str, total_steps: int) -> None:
        self.progress = Progress(
            TextColumn("[bold]" + _("training")), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"), TextColumn("lr {task.fields[lr]}"),
            TextColumn("{task.fields[speed]} " + _("samples/s")), TimeElapsedColumn(), TimeRemainingColumn(),
            console=self.console, transient=False)
        self.task = self.progress.add_task("train", total=total_steps, loss="–", lr="–", speed="–")
        self.progress.start()

    def step(self, record: StepRecord) -> None:
        if self.progress is not None and not self.started_training:
            # Restart the clock at the first step, so that feature encoding does not count as training.
            self.progress.reset(self.task, total=self.progress.tasks[0].total)
            self.started_training = True
        if self.progress is not None:
            self.progress.update(self.task, completed=record.step, loss=f"{record.loss:.4f}",
                                 lr=f"{record.lr:.2e}", speed=f"{record.samples_per_s:.0f}")

    def event(self, level: str, message: str) -> None:
        # Info events are printed above the bar because they explain a long pause before the first step.
        if level == "info":
            self.console.print(message, style="dim", markup=False, highlight=False)
        else:
            self.console.print(f"[yellow]{level}[/]: {escape(message)}")

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
