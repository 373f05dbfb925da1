"""The side-by-side comparison table of finished runs, in markdown, CSV, JSON or LaTeX.

Runs are grouped, by default into repeats of one config (same config hash apart from
``train.seed``), or by the value of one config key (``--group-by``). Each group is one row: the
mean ± sample standard deviation of every metric over its runs, the best and last training
loss of the curves, and the config summary. In markdown and LaTeX the best value of each
column is bold. Metrics are percentages (see ``engine.metrics``).

Markdown is read by people, so its words follow ``--lang``. CSV and JSON are read by programs and
LaTeX goes into papers (a Chinese header would need xeCJK), so those stay English in every language.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import statistics
from dataclasses import dataclass, field
from typing import Any, Callable

from xmr_tui.i18n import N_, _
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
    Column(N_("loss best"), "train/loss_best", higher_is_better=False, digits=4),
    Column(N_("loss last"), "train/loss_last", higher_is_better=False, digits=4),
    Column(N_("train s"), "train/seconds", higher_is_better=False, digits=1),
    Column("t2i p50 ms", "t2i/latency_p50_ms", higher_is_better=False, digits=3),
    Column("t2i p95 ms", "t2i/latency_p95_ms", higher_is_better=False, digits=3),
    Column(N_("index MiB"), "eval/index_memory_mb", higher_is_better=False, digits=1),
    Column(N_("peak MiB"), "peak_rss_mb", higher_is_better=False, digits=0),
]


@dataclass
class ReportRow:
    """One run with its final metrics (and, when loaded, ``train/loss_best`` and ``train/loss_last``)."""

    run: Run
    metrics: dict[str, float]


@dataclass(frozen=True)
class Stat:
    mean: float
    std: float | None            # sample standard deviation; None for a single run
    count: int


@dataclass
class ReportGroup:
    """Runs reported as one row: repeats of one config over seeds, or one value of ``--group-by``."""

    label: str
    rows: list[ReportRow] = field(default_factory=list)

    @property
    def run_ids(self) -> list[int]:
        return [row.run.id for row in self.rows]

    @property
    def seeds(self) -> list[int]:
        return sorted({row.run.seed for row in self.rows})

    @property
    def name(self) -> str:
        return "/".join(dict.fromkeys(row.run.name for row in self.rows))

    @property
    def summary(self) -> str:
        summaries = {re.sub(r"seed=\d+", "seed=*", row.run.summary) for row in self.rows}
        return summaries.pop() if len(summaries) == 1 else "(configs differ beyond the seed)"

    @property
    def evaluation(self) -> dict[str, Any]:
        """Return the dataset, evaluation split and query/gallery sizes the metrics were measured on."""
        run, metrics = self.rows[0].run, self.rows[0].metrics
        return {"dataset": run.dataset, "split": _eval_split(run), "queries": metrics.get("t2i/queries"),
                "gallery": metrics.get("t2i/gallery")}

    def stat(self, key: str) -> Stat | None:
        values = [row.metrics[key] for row in self.rows if key in row.metrics]
        if not values:
            return None
        std = statistics.stdev(values) if len(values) > 1 else None
        return Stat(statistics.fmean(values), std, len(values))


def add_curve_metrics(metrics: dict[str, float], losses: list[float]) -> None:
    """Add the best (lowest) and last logged training loss to a run's metrics."""
    if losses:
        metrics["train/loss_best"] = min(losses)
        metrics["train/loss_last"] = losses[-1]


# --- grouping --------------------------------------------------------------------------------------

def seedless_hash(run: Run) -> str:
    """Return a hash of the run's config without its name and ``train.seed``: equal for repeats."""
    config = json.loads(run.config_json)
    config.pop("name", None)
    config.get("train", {}).pop("seed", None)
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def config_value(run: Run, key: str) -> Any:
    """Return a run's value of config key ``a.b`` (or the run field ``name``/``sequence``/``dataset``)."""
    if key in ("name", "sequence", "dataset"):
        return getattr(run, key)
    value: Any = json.loads(run.config_json)
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(key)
        value = value[part]
    return value


def group_rows(rows: list[ReportRow], group_by: str | None = None) -> list[ReportGroup]:
    """Group rows by config apart from the seed, or by the value of config key ``group_by``."""
    groups: dict[str, ReportGroup] = {}
    for row in rows:
        if group_by is None:
            key = seedless_hash(row.run)
            label = None
        else:
            try:
                value = config_value(row.run, group_by)
            except KeyError:
                raise ValueError(_("--group-by {key!r}: run {id} has no such config key; use a key path such as "
                                   "text.backbone or head.kind (see `xmr runs show`)").format(key=group_by,
                                                                                             id=row.run.id)) from None
            key = label = f"{group_by}={json.dumps(value, ensure_ascii=False)}"
        group = groups.setdefault(key, ReportGroup(label=label or ""))
        group.rows.append(row)
    for group in groups.values():
        group.label = group.label or ",".join(map(str, group.run_ids))
    return list(groups.values())


# --- formats ---------------------------------------------------------------------------------------

def best_values(groups: list[ReportGroup], columns: list[Column] | None = None) -> dict[str, float]:
    """Return the best mean of each column (default: the report's metric columns) over ``groups``."""
    best = {}
    for column in columns if columns is not None else METRIC_COLUMNS:
        means = [stat.mean for group in groups if (stat := group.stat(column.key)) is not None]
        if means:
            best[column.key] = max(means) if column.higher_is_better else min(means)
    return best


def _cell(group: ReportGroup, column: Column, best: dict[str, float], bold: Callable[[str], str],
          plus_minus: str) -> str:
    stat = group.stat(column.key)
    if stat is None:
        return "–"
    text = f"{stat.mean:.{column.digits}f}"
    if stat.std is not None:
        text += f"{plus_minus}{stat.std:.{column.digits}f}"
    return bold(text) if best.get(column.key) == stat.mean else text


def to_markdown(groups: list[ReportGroup]) -> str:
    best = best_values(groups) if len(groups) > 1 else {}
    header = [_("run"), _("name"), _("seeds"), *[_(c.title) for c in METRIC_COLUMNS], _("summary")]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for group in groups:
        cells = [group.label, group.name, ",".join(map(str, group.seeds)),
                 *[_cell(group, c, best, lambda t: f"**{t}**", " ± ") for c in METRIC_COLUMNS],
                 f"`{group.summary}`"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines + ["", evaluation_note(groups)])


def evaluation_note(groups: list[ReportGroup], translate: Callable[[str], str] = _) -> str:
    """State the split, gallery sizes and the random-ranking R@10 the table should be read against.

    ``translate`` turns each sentence into the current language. LaTeX output passes ``str`` to
    keep them English.
    """
    notes = set()
    for row in (row for group in groups for row in group.rows):
        m = row.metrics
        if "t2i/gallery" in m:
            notes.add(translate(N_("{dataset} `{split}` split: {queries:.0f} caption queries × {gallery:.0f} images; "
                                   "random-ranking t2i R@10 = {t2i_random:.2f}, i2t R@10 = {i2t_random:.2f}")).format(
                dataset=row.run.dataset, split=_eval_split(row.run), queries=m["t2i/queries"],
                gallery=m["t2i/gallery"], t2i_random=m.get("t2i/random_R@10", 0),
                i2t_random=m.get("i2t/random_R@10", 0)))
    lines = sorted(notes)
    scored = [group for group in groups if group.stat("t2i/R@10") and _positive(group.stat("t2i/random_R@10"))]
    if scored:
        best = max(scored, key=lambda group: group.stat("t2i/R@10").mean)
        recall, random = best.stat("t2i/R@10").mean, best.stat("t2i/random_R@10").mean
        template = translate(N_("best t2i R@10: {group} with {recall:.2f}, {ratio:.1f}× its random-ranking value"))
        lines.append(template.format(group=_describe(best, translate), recall=recall, ratio=recall / random))
    if groups:
        lines.append(translate(N_("Metrics in percent; repeated configs show mean ± sample standard deviation over "
                                  "seeds; best value per column in bold.")))
    return "\n".join(lines)


def _positive(stat: Stat | None) -> bool:
    return stat is not None and stat.mean > 0


def _describe(group: ReportGroup, translate: Callable[[str], str]) -> str:
    if "=" in group.label:  # a --group-by value
        return group.label
    template = translate(N_("run {label}")) if len(group.rows) == 1 else translate(N_("runs {label}"))
    return template.format(label=group.label)


def _eval_split(run: Run) -> str:
    return json.loads(run.config_json).get("data", {}).get("eval_split", "test")


def to_csv(groups: list[ReportGroup]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    metric_header = [name for c in METRIC_COLUMNS for name in (c.key, f"{c.key} std")]
    writer.writerow(["runs", "name", "seeds", "n", "dataset", "split", "queries", "gallery", *metric_header,
                     "summary"])
    for group in groups:
        cells = []
        for column in METRIC_COLUMNS:
            stat = group.stat(column.key)
            cells += ["", ""] if stat is None else [stat.mean, "" if stat.std is None else stat.std]
        evaluation = group.evaluation
        writer.writerow([" ".join(map(str, group.run_ids)), group.name, " ".join(map(str, group.seeds)),
                         len(group.rows), evaluation["dataset"], evaluation["split"], evaluation["queries"],
                         evaluation["gallery"], *cells, group.summary])
    return buffer.getvalue()


def to_json(groups: list[ReportGroup]) -> str:
    payload = []
    for group in groups:
        metric_names = sorted({name for row in group.rows for name in row.metrics})
        stats = {name: vars(group.stat(name)) for name in metric_names}
        payload.append({"group": group.label, "runs": group.run_ids, "name": group.name, "seeds": group.seeds,
                        "summary": group.summary, "config_hashes": sorted({r.run.config_hash for r in group.rows}),
                        "evaluation": group.evaluation, "metrics": stats})
    return json.dumps(payload, indent=2, ensure_ascii=False)


LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIALS.get(char, char) for char in text)


def to_latex(groups: list[ReportGroup]) -> str:
    """Return a booktabs ``tabular`` (needs ``\\usepackage{booktabs}``), best values in bold."""
    best = best_values(groups) if len(groups) > 1 else {}
    header = ["Run", "Name", *[latex_escape(c.title) for c in METRIC_COLUMNS]]
    lines = [r"\begin{tabular}{ll" + "r" * len(METRIC_COLUMNS) + "}", r"\toprule", " & ".join(header) + r" \\",
             r"\midrule"]
    for group in groups:
        cells = [latex_escape(group.label), latex_escape(group.name),
                 *[_cell(group, c, best, lambda t: rf"\textbf{{{t}}}", r" $\pm$ ") for c in METRIC_COLUMNS]]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    note = evaluation_note(groups, str).replace("`", "")
    return "\n".join(lines + ["% " + line for line in note.splitlines() if line])


FORMATS: dict[str, Callable[[list[ReportGroup]], str]] = {
    "markdown": to_markdown, "csv": to_csv, "json": to_json, "latex": to_latex}
