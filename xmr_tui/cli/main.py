"""The ``xmr`` command: run experiments, report them, manage datasets.

Run ``xmr --help`` for the command list; every command has ``--help``.
"""

from __future__ import annotations

import os

# torch and faiss-cpu each bundle an OpenMP runtime. With the default active wait policy their
# idle threads spin against each other, and FAISS searches ran up to 5x slower in the benchmarks.
# This must be set before either library is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from typing import Optional  # noqa: E402

import typer  # noqa: E402

from xmr_tui.cli import combos, data, queue, report, run, runs, worker  # noqa: E402
from xmr_tui.cli.translation import TranslatedGroup  # noqa: E402
from xmr_tui.i18n import LANGUAGES, set_language  # noqa: E402

app = typer.Typer(cls=TranslatedGroup, help="xmr: ablation experiments for Chinese text–image retrieval.",
                  no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)


@app.callback()
def root(lang: Optional[str] = typer.Option(
        None, "--lang", help=f"message language: {' or '.join(LANGUAGES)} (default: from LC_ALL, LC_MESSAGES or LANG)")
         ) -> None:
    """Set the language of the messages before any command runs."""
    try:
        set_language(lang)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--lang") from None


app.command("run")(run.run_command)
app.command("report")(report.report_command)
app.command("combos")(combos.combos_command)
app.add_typer(data.app, name="data")
app.add_typer(queue.app, name="queue")
app.add_typer(worker.app, name="worker")
app.add_typer(runs.app, name="runs")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
