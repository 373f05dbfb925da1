"""The ``xmr`` command: run experiments, report them, manage datasets.

Run ``xmr --help`` for the command list; every command has ``--help``.
"""

from __future__ import annotations

import typer

from xmr_tui.cli import data, report, run

app = typer.Typer(help="xmr: ablation experiments for Chinese text–image retrieval.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
app.command("run")(run.run_command)
app.command("report")(report.report_command)
app.add_typer(data.app, name="data")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
