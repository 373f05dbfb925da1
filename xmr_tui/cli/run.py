"""``xmr run CONFIG``: train and evaluate one config in the foreground, storing the run."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from xmr_tui.cli.common import DB_OPTION, console, one_line_errors, open_store, setup_logging
from xmr_tui.i18n import _


def run_command(
    config: str = typer.Argument(..., help="combo name (e.g. demo_baseline, combo_a_offline) or YAML path"),
    overrides: Optional[list[str]] = typer.Option(None, "--set", help="override a key: --set train.steps=200"),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda or cuda:N (default: CUDA when available)"),
    db: Optional[Path] = DB_OPTION,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="log every engine message"),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="leave out bad dataset rows and report how many "
                                  "(sets data.skip_bad); without it a dataset with bad rows is rejected"),
) -> None:
    """Train and evaluate one config now, with a progress bar; the run is saved to the store."""
    from engine.config import load_config
    from engine.sink import CompositeSink
    from engine.train import resolve_device, run
    from xmr_tui.cli.progress import ProgressSink
    from xmr_tui.store import RunStatus
    from xmr_tui.store import runs as store_runs
    from engine.data.datasets import dataset_root
    from xmr_tui.store.datasets import resolve_dataset
    from xmr_tui.store.sink import StoreSink

    setup_logging(verbose)
    with one_line_errors():
        extra = ["data.skip_bad=true"] if skip_bad else []
        store = open_store(db)
        resolved = resolve_dataset(store, load_config(config, [*(overrides or []), *extra]))
        dataset_root(resolved.data)  # a missing dataset or a bad device stops here, before a run row is stored
        resolve_device(device)
        record = store_runs.create_run(store, resolved, status=RunStatus.running, device=device)
        console.print(_("run {id}: [bold]{name}[/] {summary}").format(
            id=record.id, name=resolved.name, summary=record.summary), highlight=False)
        progress = ProgressSink(console)
        try:
            result = run(resolved, CompositeSink(StoreSink(store, record.id), progress), device=device)
        except KeyboardInterrupt:
            progress.close()
            store_runs.finish_run(store, record.id, RunStatus.cancelled, "interrupted by the user")
            raise typer.Exit(130) from None
        except BaseException as error:
            progress.close()
            store_runs.finish_run(store, record.id, RunStatus.failed, str(error).splitlines()[0] if str(error) else
                                  type(error).__name__)
            raise
        store_runs.finish_run(store, record.id, RunStatus.finished)
    print_metrics(record.id, result.metrics, result.summary)


def print_metrics(run_id: int, metrics: dict[str, float], summary: str) -> None:
    table = Table(title=_("run {id}: test metrics (percent)").format(id=run_id))
    for column in (_("direction"), "R@1", "R@5", "R@10", _("mean recall"), "mAP", "NDCG@10", _("random R@10")):
        table.add_column(column, justify="right")
    for prefix, label in (("t2i", _("text→image")), ("i2t", _("image→text"))):
        keys = ["R@1", "R@5", "R@10", "mean_recall", "mAP", "NDCG@10", "random_R@10"]
        table.add_row(label, *[f"{metrics.get(f'{prefix}/{k}', float('nan')):.2f}" for k in keys])
    console.print(table)
    console.print(_("summary: {summary}").format(summary=summary), highlight=False, soft_wrap=True)
    console.print(_("train {seconds:.1f}s, {speed:.0f} samples/s, peak RSS {rss:.0f} MiB").format(
        seconds=metrics.get("train/seconds", 0), speed=metrics.get("train/samples_per_s", 0),
        rss=metrics.get("peak_rss_mb", 0)), highlight=False)
