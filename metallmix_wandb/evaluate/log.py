"""An evaluation as a W&B run (job_type "evaluation"): two Tables (the ranked summary and every
result), per-method summary keys for Report panels, and the whole report as evaluation.json.
Also the local copy under the cache, which `report` reads when no W&B server is reachable.
Tested through tests/evaluate/test_pipeline.py and test_tune_mode.py (offline runs of `evaluate`)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from metallmix_wandb.logged_run import LoggedRun, finishing
from metallmix_wandb.evaluate.records import EvaluationReport, MethodResult, MethodSummary
from metallmix_wandb.llm.judge import CRITERIA
from metallmix_wandb.evaluate.report_spec import method_key

RESULTS_FILE = "evaluation.json"
SUMMARY_COLUMNS = ["rank", "method", "family", "datasets", "median_percentile", "mean_percentile", "mean_metric",
                   "median_regret", "mean_norm_regret", "top1_rate", "median_response_s", "median_train_time_s",
                   "validity_rate", *[f"judge_{c}" for c in CRITERIA], "mean_dataset_rank", "failures"]
RESULT_COLUMNS = ["dataset", "method", "seed", "config", "metric", "regret", "percentile", "response_s",
                  "train_time_s", "search_train_s", *[f"judge_{c}" for c in CRITERIA], "raw_valid", "ok", "error"]


class LoggedEvaluation(LoggedRun):
    """The evaluation run (its own name, same fields as every logged run)."""


def summary_row(s: MethodSummary) -> list[Any]:
    return [s.rank, s.method, s.family, s.datasets, s.median_percentile, s.mean_percentile, s.mean_metric,
            s.median_regret, s.mean_norm_regret, s.top1_rate, s.median_response_s, s.median_train_time_s,
            s.validity_rate, *[s.judge.get(c) for c in CRITERIA], s.mean_dataset_rank, s.failures]


def result_row(r: MethodResult) -> list[Any]:
    return [r.dataset_name, r.method, r.seed, json.dumps(r.config, default=str), r.metric, r.regret, r.percentile,
            r.response_s, r.train_time_s, r.search_train_s, *[r.judge.get(c) for c in CRITERIA], r.raw_valid,
            r.ok, r.error]


def flat_summary(report: EvaluationReport) -> dict[str, float]:
    """`<method>/<number>` keys: what Report bar charts read from the run summary."""
    out: dict[str, float] = {}
    for c in report.curves:
        out[f"{method_key(c.method)}/best_so_far_at_{c.n}"] = float(c.median_percentile)
    for s in report.summary:
        key = method_key(s.method)
        for name in ("median_percentile", "mean_percentile", "mean_metric", "median_regret", "median_response_s",
                     "median_train_time_s", "validity_rate", "rank", "mean_dataset_rank"):
            v = getattr(s, name)
            if isinstance(v, int | float):
                out[f"{key}/{name}"] = float(v)
        for c, v in s.judge.items():
            if v is not None:
                out[f"{key}/judge_{c}"] = float(v)
    return out


def log_evaluation(report: EvaluationReport, *, project: str, entity: str | None, offline: bool) -> LoggedEvaluation:
    import wandb

    run = wandb.init(project=project, entity=entity, job_type="evaluation", reinit="create_new",
                     mode="offline" if offline else "online", dir=os.environ.get("WANDB_DIR"),
                     name=f"evaluation {report.created_at or ''}".strip(),
                     config={"mode": report.mode, "protocol": report.protocol, "metric": report.metric, "budget": report.budget,
                             "seeds": report.seeds, "methods": report.methods, "datasets": report.datasets,
                             "space": report.space})
    with finishing(run):
        summary = wandb.Table(columns=SUMMARY_COLUMNS, data=[summary_row(s) for s in report.summary])
        results = wandb.Table(columns=RESULT_COLUMNS, data=[result_row(r) for r in report.results])
        logged_tables = {"evaluation/summary": summary, "evaluation/results": results}
        if report.curves:  # --method tune: best-so-far after N trials, one row per (method, N)
            logged_tables["evaluation/best_so_far"] = wandb.Table(
                columns=["method", "n", "median_percentile", "mean_percentile", "datasets"],
                data=[[c.method, c.n, c.median_percentile, c.mean_percentile, c.datasets] for c in report.curves])
        run.log(logged_tables)
        run.summary.update(flat_summary(report))
        Path(run.dir, RESULTS_FILE).write_text(report.model_dump_json(indent=1))
        logged = LoggedEvaluation.of(run)
    return logged


def results_folder(cache_dir: Path, project: str) -> Path:
    return Path(cache_dir) / "evaluation" / re.sub(r"[^A-Za-z0-9_.-]", "_", project)


def save_local(report: EvaluationReport, cache_dir: Path, out: Path | None = None) -> Path:
    """`latest.json` (what `report` reads) plus a timestamped copy; or the given `out` file."""
    text = report.model_dump_json(indent=1)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    folder = results_folder(cache_dir, report.project)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = re.sub(r"[^0-9T]", "", report.created_at or "")[:15] or "run"
    (folder / f"evaluation-{stamp}.json").write_text(text)
    latest = folder / "latest.json"
    tmp = latest.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(latest)
    return out or latest


def load_local(path: Path) -> EvaluationReport:
    return EvaluationReport.model_validate_json(Path(path).read_text())
