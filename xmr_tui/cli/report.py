"""``xmr report``: the side-by-side table of finished runs, and optional PNG plots."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from xmr_tui.cli.common import DB_OPTION, CliError, console, error_console, one_line_errors, open_store, parse_ids
from xmr_tui.i18n import _


def report_command(
    format: str = typer.Option("markdown", "--format", "-f", help="markdown, csv, json or latex"),
    run_ids: Optional[str] = typer.Option(None, "--runs", help="comma-separated run ids (default: all finished)"),
    group_by: Optional[str] = typer.Option(None, "--group-by", help="config key whose value groups runs, e.g. "
                                           "text.backbone (default: repeats of one config over seeds)"),
    plots: Optional[Path] = typer.Option(None, "--plots", help="also write loss.png, lr.png and recall.png to "
                                         "this folder"),
    db: Optional[Path] = DB_OPTION,
) -> None:
    """Print finished runs side by side: R@1/5/10, mean recall, mAP, NDCG, loss; mean ± std over seeds."""
    from xmr_tui.report import FORMATS, ReportRow, add_curve_metrics, group_rows
    from xmr_tui.store import RunStatus
    from xmr_tui.store.runs import list_runs, metrics_by_run, steps_of

    with one_line_errors():
        if format not in FORMATS:
            raise CliError(_("--format {value!r} is invalid; allowed: {allowed}").format(value=format,
                                                                                        allowed=", ".join(FORMATS)))
        ids = parse_ids(run_ids, "--runs") if run_ids else None
        store = open_store(db)
        runs = list_runs(store, statuses=[RunStatus.finished], ids=ids)
        if ids:
            _check_requested_runs(store, ids, runs)
        if not runs:
            raise CliError(_("no finished runs in {db}; train one with `xmr run demo_baseline`").format(db=store.path))
        metrics = metrics_by_run(store, [r.id for r in runs])
        curves = {run.id: steps_of(store, run.id) for run in runs}
        rows = []
        for run in runs:
            add_curve_metrics(metrics[run.id], [point.loss for point in curves[run.id]])
            rows.append(ReportRow(run, metrics[run.id]))
        groups = group_rows(rows, group_by)
    console.print(FORMATS[format](groups), markup=False, highlight=False, soft_wrap=True)
    if plots is not None:
        from xmr_tui.plots import write_plots

        for path in write_plots(groups, curves, plots):
            error_console.print(_("wrote {path}").format(path=path), highlight=False, soft_wrap=True)


def _check_requested_runs(store, ids: list[int], finished: list) -> None:  # type: ignore[no-untyped-def]
    """Raise CliError naming the first of ``ids`` that is missing or not finished."""
    from xmr_tui.store.runs import list_runs

    done = {run.id for run in finished}
    stored = {run.id: run for run in list_runs(store, ids=ids)}
    for run_id in ids:
        if run_id not in stored:
            raise CliError(_("--runs: no run with id {id}; see `xmr runs list`").format(id=run_id))
        if run_id not in done:
            raise CliError(_("--runs: run {id} is {status}, not finished; report only finished runs").format(
                id=run_id, status=_(stored[run_id].status.value)))
