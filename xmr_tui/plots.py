"""PNG figures of a report: training loss and learning-rate curves, and a recall bar chart.

Drawn with matplotlib's Agg backend, so they render without a display (over SSH, in CI).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen before pyplot loads)

from xmr_tui.report import ReportGroup  # noqa: E402
from xmr_tui.store.models import StepMetric  # noqa: E402

RECALL_KEYS = ["t2i/R@1", "t2i/R@5", "t2i/R@10", "i2t/R@1", "i2t/R@5", "i2t/R@10"]


def write_plots(groups: list[ReportGroup], curves: dict[int, list[StepMetric]], folder: Path) -> list[Path]:
    """Write ``loss.png``, ``lr.png`` and ``recall.png`` into ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        _curve_plot(groups, curves, "loss", "training loss (mean over each logging window)", folder / "loss.png"),
        _curve_plot(groups, curves, "lr", "learning rate of the heads", folder / "lr.png"),
        _recall_plot(groups, folder / "recall.png"),
    ]


def _curve_plot(groups: list[ReportGroup], curves: dict[int, list[StepMetric]], field: str, title: str,
                path: Path) -> Path:
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=120)
    for group in groups:
        for row in group.rows:
            points = curves.get(row.run.id, [])
            if points:
                axes.plot([p.step for p in points], [getattr(p, field) for p in points],
                          label=f"run {row.run.id} {row.run.name} (seed {row.run.seed})")
    axes.set_xlabel("optimizer step")
    axes.set_ylabel(field)
    axes.set_title(title)
    if field == "loss":
        axes.set_yscale("log")
    if axes.lines:
        axes.legend(fontsize="small")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def _recall_plot(groups: list[ReportGroup], path: Path) -> Path:
    figure, axes = plt.subplots(figsize=(max(6.0, 1.6 * len(RECALL_KEYS)), 4.5), dpi=120)
    width = 0.8 / max(1, len(groups))
    for index, group in enumerate(groups):
        stats = [group.stat(key) for key in RECALL_KEYS]
        means = [s.mean if s else float("nan") for s in stats]  # NaN draws no bar for a missing metric
        errors = [s.std if s and s.std is not None else 0.0 for s in stats]
        positions = [k + (index - (len(groups) - 1) / 2) * width for k in range(len(RECALL_KEYS))]
        axes.bar(positions, means, width, yerr=errors, capsize=3, label=f"{group.label} {group.name}")
    axes.set_xticks(range(len(RECALL_KEYS)), RECALL_KEYS)
    axes.set_ylabel("recall (%)")
    axes.set_ylim(0, 100)
    axes.set_title("retrieval recall (error bars: standard deviation over seeds)")
    axes.legend(fontsize="small")
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
