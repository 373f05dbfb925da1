"""``xmr report``: the side-by-side table of finished runs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from xmr_tui.cli.common import DB_OPTION, CliError, console, one_line_errors, open_store


def report_command(
    format: str = typer.Option("markdown", "--format", "-f", help="markdown, csv or json"),
    run_ids: Optional[str] = typer.Option(None, "--runs", help="comma-separated run ids (default: all finished)"),
    db: Optional[Path] = DB_OPTION,
) -> None:
    """Print finished runs side by side: summary and R@1/5/10, mean recall, mAP, NDCG."""
    from xmr_tui.report import FORMATS, ReportRow
    from xmr_tui.store import RunStatus
    from xmr_tui.store.runs import list_runs, metrics_by_run

    with one_line_errors():
        if format not in FORMATS:
            raise CliError(f"--format {format!r} is invalid; allowed: {', '.join(FORMATS)}")
        ids = _parse_ids(run_ids) if run_ids else None
        store = open_store(db)
        runs = list_runs(store, statuses=[RunStatus.finished], ids=ids)
        if not runs:
            raise CliError(f"no finished runs in {store.path}; train one with `xmr run demo_baseline`")
        metrics = metrics_by_run(store, [r.id for r in runs])
        rows = [ReportRow(run, metrics[run.id]) for run in runs]
    console.print(FORMATS[format](rows), markup=False, highlight=False, soft_wrap=True)


def _parse_ids(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise CliError(f"--runs {text!r} is invalid; expected comma-separated run ids such as 1,2,5") from None
