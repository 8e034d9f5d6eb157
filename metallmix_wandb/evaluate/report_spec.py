"""The evaluation report as plain data: sections of bar panels and a ranked table. Pure.

One spec feeds both renderers: online it becomes a W&B Report (wandb-workspaces; each panel reads
`<method>/<field>` keys from the summary of the evaluation run(s) it was built from, selected by run id:
`run_refs`), offline it is written as JSON beside PNG plots of the same panels and an HTML page that
shows them. Tested through tests/evaluate/test_report_online.py (run refs; the saved report at the wire),
test_pipeline.py and test_tune_mode.py (the `report` command builds it).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from metallmix_wandb.evaluate.records import EvaluationReport, MethodSummary
from metallmix_wandb.llm.judge import CRITERIA
from metallmix_wandb.numbers import finite_or_none


class Panel(BaseModel):
    title: str
    field: str = Field(description="the MethodSummary field plotted")
    unit: str = ""
    log_scale: bool = False
    methods: list[str]
    values: list[float | None]
    wandb_keys: list[str] = Field(description="run-summary keys of the evaluation run, one per method")


class Section(BaseModel):
    heading: str
    text: str = ""
    panels: list[Panel] = Field(default_factory=list)


class ReportSpec(BaseModel):
    title: str
    description: str
    project: str
    entity: str | None = None
    evaluation_run: str | None = None
    evaluation_runs: list[str] = Field(default_factory=list, description="every evaluation run the results "
                                       "came from (merged: one each), what the online run sets select")
    sections: list[Section]
    table_columns: list[str]
    table_rows: list[list[Any]]


class RunRef(BaseModel):
    """An evaluation run as the online run set selects it: by id, in its own entity/project when known."""

    entity: str | None = None
    project: str | None = None
    run_id: str


_RUN_ID = re.compile(r"[A-Za-z0-9_.-]+")
_OFFLINE_DIR = re.compile(r"(?:offline-)?run-\d{8}_\d{6}-([A-Za-z0-9_.-]+)")


def run_ref(value: str) -> RunRef | None:
    """`entity/project/id` (an online evaluation run), or an offline run folder
    (`offline-run-<time>-<id>`, the id it keeps once `wandb sync`ed); None for anything else."""
    parts = value.strip().split("/")
    if len(parts) == 3 and all(_RUN_ID.fullmatch(p) for p in parts) and not value.startswith("/"):
        return RunRef(entity=parts[0], project=parts[1], run_id=parts[2])
    if m := _OFFLINE_DIR.fullmatch(parts[-1] or (parts[-2] if len(parts) > 1 else "")):
        return RunRef(run_id=m.group(1))
    return None


def run_refs(spec: ReportSpec) -> list[RunRef]:
    """The evaluation runs the report reads, deduplicated, in order."""
    refs = [r for v in spec.evaluation_runs or ([spec.evaluation_run] if spec.evaluation_run else [])
            if (r := run_ref(v)) is not None]
    return list({(r.entity, r.project, r.run_id): r for r in refs}.values())


def method_key(method: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", method)


def _value(s: MethodSummary, field: str) -> float | None:
    v = s.judge.get(field.removeprefix("judge_")) if field.startswith("judge_") else getattr(s, field)
    return finite_or_none(v)


def _panel(summaries: list[MethodSummary], title: str, field: str, unit: str = "", log: bool = False) -> Panel | None:
    rows = [(s.method, _value(s, field)) for s in summaries]
    rows = [(m, v) for m, v in rows if v is not None]
    if not rows:
        return None
    return Panel(title=title, field=field, unit=unit, log_scale=log, methods=[m for m, _ in rows],
                 values=[v for _, v in rows], wandb_keys=[f"{method_key(m)}/{field}" for m, _ in rows])


def build_spec(report: EvaluationReport, entity: str | None = None,
               evaluation_runs: list[str] | None = None) -> ReportSpec:
    """Quality (percentile, metric), cost (response and training time), LLM answers (validity, judge).
    `evaluation_runs`: the runs of merged evaluations (default: the report's own run)."""
    s = report.summary
    quality = [p for p in (
        _panel(s, "Median percentile of the chosen config (1 = the dataset's best)", "median_percentile"),
        _panel(s, f"Mean {report.metric} of the chosen config", "mean_metric"),
        _panel(s, "Mean rank among methods per dataset (1 = best)", "mean_dataset_rank"),
    ) if p]
    cost = [p for p in (
        _panel(s, "Median response time (incl. the training a search needs)", "median_response_s", "s", log=True),
        _panel(s, "Median training time of the chosen config", "median_train_time_s", "s", log=True),
    ) if p]
    llm = [p for p in (
        _panel(s, "LLM answers valid before repair", "validity_rate"),
        *[_panel(s, f"Judge: {c} (0-4)", f"judge_{c}") for c in CRITERIA],
    ) if p]
    best = s[0].method if s else "-"
    sections = [
        Section(heading="Which method chooses best",
                text=f"Leave-one-dataset-out over {len(report.datasets)} datasets ({', '.join(report.datasets)}): "
                     f"each dataset's runs are hidden and every method chooses one config for it, scored by the "
                     f"table of all configs' {report.metric}. Random search and BO get {report.budget} evaluations, "
                     f"seeds {report.seeds}. Best median percentile: {best}."
                     + "".join(f" Note: {n}." for n in report.notes),
                panels=quality),
        Section(heading="What it costs", panels=cost,
                text="Response time counts the method's own compute plus, for random search and BO, the "
                     "training time of every configuration they had to run."),
    ]
    if report.curves:
        sections.insert(1, _curves_section(report))
    if llm:
        sections.append(Section(heading="LLM answers", panels=llm,
                                text="Validity of the raw answer before any repair, and the LLM judge's scores."))
    columns = ["rank", "method", "median percentile", f"mean {report.metric}", "median response s",
               "median train s", "validity", "judge mean", "failures"]
    rows = [[m.rank, m.method, _round(m.median_percentile), _round(m.mean_metric), _round(m.median_response_s),
             _round(m.median_train_time_s), _round(m.validity_rate), _round(m.judge.get("mean")), m.failures]
            for m in s]
    return ReportSpec(title=f"metallmix-wandb evaluation: {report.project}",
                      description=f"LLMs and baselines on {report.metric}, leave-one-dataset-out ({report.mode} mode)",
                      project=report.project, entity=entity, evaluation_run=report.wandb_run,
                      evaluation_runs=evaluation_runs if evaluation_runs is not None else
                      [r for r in [report.wandb_run] if r], sections=sections,
                      table_columns=columns, table_rows=rows)


def _curves_section(report: EvaluationReport) -> Section:
    """`--method tune`: one bar panel per checkpoint N (the best-so-far after N trials)."""
    panels = []
    for n in sorted({c.n for c in report.curves}):
        points = sorted((c for c in report.curves if c.n == n), key=lambda c: -c.median_percentile)
        field = f"best_so_far_at_{n}"
        panels.append(Panel(title=f"Median percentile of the best config after {n} trial(s)", field=field,
                            methods=[c.method for c in points], values=[c.median_percentile for c in points],
                            wandb_keys=[f"{method_key(c.method)}/{field}" for c in points]))
    return Section(heading="Best so far after N trials", panels=panels,
                   text="Every budgeted method (tune with and without the LLM, random search, BO) gets the same "
                        f"trials, up to {report.budget}; each bar is the median over datasets (means over seeds "
                        "first) of the percentile of the best config found so far.")


def _round(x: float | None) -> float | None:
    return None if (v := finite_or_none(x)) is None else round(v, 4)
