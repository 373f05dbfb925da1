"""The side-by-side comparison table of finished runs, in markdown, CSV or JSON.

One row per run: the one-line config summary and the metric columns. In markdown the best
value of each column is bold. Metrics are percentages (see ``engine.metrics``).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Callable

from xmr_tui.store.models import Run


@dataclass(frozen=True)
class Column:
    title: str
    key: str                     # metric name in the store
    higher_is_better: bool = True
    digits: int = 2


METRIC_COLUMNS = [
    Column("t2i R@1", "t2i/R@1"), Column("t2i R@5", "t2i/R@5"), Column("t2i R@10", "t2i/R@10"),
    Column("i2t R@1", "i2t/R@1"), Column("i2t R@5", "i2t/R@5"), Column("i2t R@10", "i2t/R@10"),
    Column("MR", "mean_recall"), Column("t2i mAP", "t2i/mAP"), Column("t2i NDCG@10", "t2i/NDCG@10"),
    Column("train s", "train/seconds", higher_is_better=False, digits=1),
]


@dataclass
class ReportRow:
    run: Run
    metrics: dict[str, float]


def best_values(rows: list[ReportRow]) -> dict[str, float]:
    """Return the best value of each metric column over ``rows``."""
    best = {}
    for column in METRIC_COLUMNS:
        values = [row.metrics[column.key] for row in rows if column.key in row.metrics]
        if values:
            best[column.key] = max(values) if column.higher_is_better else min(values)
    return best


def _cell(row: ReportRow, column: Column, best: dict[str, float], bold: Callable[[str], str]) -> str:
    value = row.metrics.get(column.key)
    if value is None:
        return "–"
    text = f"{value:.{column.digits}f}"
    return bold(text) if best.get(column.key) == value and len(best) else text


def to_markdown(rows: list[ReportRow]) -> str:
    best = best_values(rows) if len(rows) > 1 else {}
    header = ["run", "name", *[c.title for c in METRIC_COLUMNS], "summary"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [str(row.run.id), row.run.name,
                 *[_cell(row, c, best, lambda t: f"**{t}**") for c in METRIC_COLUMNS],
                 f"`{row.run.summary}`"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines + ["", evaluation_note(rows)])


def evaluation_note(rows: list[ReportRow]) -> str:
    """State the split, gallery sizes and the random-ranking R@10 the table should be read against."""
    notes = set()
    for row in rows:
        m = row.metrics
        if "t2i/gallery" in m:
            notes.add(f"{row.run.dataset} `{_eval_split(row.run)}` split: {m['t2i/queries']:.0f} caption queries × "
                      f"{m['t2i/gallery']:.0f} images; random-ranking t2i R@10 = {m.get('t2i/random_R@10', 0):.2f}, "
                      f"i2t R@10 = {m.get('i2t/random_R@10', 0):.2f}")
    return "\n".join(sorted(notes)) + ("\nMetrics in percent; best value per column in bold." if rows else "")


def _eval_split(run: Run) -> str:
    return json.loads(run.config_json).get("data", {}).get("eval_split", "test")


def to_csv(rows: list[ReportRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["run", "name", "status", *[c.key for c in METRIC_COLUMNS], "summary"])
    for row in rows:
        writer.writerow([row.run.id, row.run.name, row.run.status.value,
                         *[row.metrics.get(c.key, "") for c in METRIC_COLUMNS], row.run.summary])
    return buffer.getvalue()


def to_json(rows: list[ReportRow]) -> str:
    payload = [{"run": row.run.id, "name": row.run.name, "status": row.run.status.value,
                "summary": row.run.summary, "config_hash": row.run.config_hash, "metrics": row.metrics}
               for row in rows]
    return json.dumps(payload, indent=2, ensure_ascii=False)


FORMATS: dict[str, Callable[[list[ReportRow]], str]] = {"markdown": to_markdown, "csv": to_csv, "json": to_json}
