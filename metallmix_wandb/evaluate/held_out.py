"""One held-out dataset in words: where each method's pick ranks in that dataset's full table, and what
the answer cost (the searches' trainings included). Pure.

`evaluate --lookup TABLE --datasets X` scores every method on one hidden dataset; this turns its
percentiles back into ranks among the table's configs (the lookup percentile is the average rank,
0 = worst, 1 = best, over a complete grid, so rank = 1 + (n - 1)(1 - percentile)) and averages the
searches over their seeds. It is the value statement the demo prints (scripts/demo.sh).
Tested in tests/evaluate/test_held_out.py.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from pydantic import BaseModel, Field

from metallmix_wandb.evaluate.records import EvaluationReport, MethodResult
from metallmix_wandb.space.search_space import SearchSpace

LABELS = {"meta-learner": "recommendation (meta-learner, no search)", "random": "random search",
          "bayes": "Bayesian optimisation", "global-best": "global best config", "nearest": "nearest dataset's best"}
"""How each method reads in the statement; other methods keep their own name."""


class HeldOutRow(BaseModel):
    """One method on the held-out dataset (searches: the mean over their seeds)."""

    method: str
    seeds: int
    evaluations: int = Field(description="configs trained to decide (a search's budget; 0 for a one-shot pick)")
    metric: float
    percentile: float
    rank: float = Field(description="mean rank of the pick among the dataset's configs (1 = its best)")
    answer_s: float = Field(description="the method's own compute")
    train_s: float | None = Field(description="training time the answer needed: a search's trials, or, for a "
                                  "one-shot pick, training the picked config once")


class HeldOut(BaseModel):
    """The held-out statement: the dataset, its table's size and best metric, one row per method (the
    meta-learner's recommendation first, then by rank)."""

    dataset: str
    dataset_name: str
    metric_name: str
    configs: int
    best_metric: float
    rows: list[HeldOutRow]


def rank_of(percentile: float, configs: int) -> float:
    """The lookup percentile (average rank, 0 = worst, 1 = best) as a rank among `configs` (1 = best)."""
    return 1.0 + (configs - 1) * (1.0 - percentile)


def _row(method: str, results: Sequence[MethodResult], configs: int) -> HeldOutRow:
    mean = statistics.fmean
    pct = mean(r.percentile for r in results)
    evals = max(r.evaluations for r in results)
    times = [r.search_train_s if evals else r.train_time_s for r in results]
    known = [t for t in times if t is not None]
    return HeldOutRow(method=method, seeds=len(results), evaluations=evals, metric=mean(r.metric for r in results),
                      percentile=pct, rank=mean(rank_of(r.percentile, configs) for r in results),
                      answer_s=mean(r.compute_s for r in results), train_s=mean(known) if known else None)


def held_out(report: EvaluationReport) -> HeldOut | None:
    """The statement for a lookup-mode evaluation of exactly one dataset (None otherwise)."""
    if report.mode != "lookup" or report.protocol != "recommend" or len(report.datasets) != 1 or not report.results:
        return None
    configs = SearchSpace.from_sweep_config(report.space).grid_size()
    if not configs:
        return None
    by_method: dict[str, list[MethodResult]] = {}
    for r in report.results:
        by_method.setdefault(r.method, []).append(r)
    rows = sorted((_row(m, rs, configs) for m, rs in by_method.items()),
                  key=lambda row: (row.method != "meta-learner", row.rank))  # the recommendation first
    first = report.results[0]
    return HeldOut(dataset=first.dataset, dataset_name=first.dataset_name, metric_name=report.metric,
                   configs=configs, best_metric=first.best_metric, rows=rows)


def _secs(s: float | None) -> str:
    if s is None:
        return "not in the table"
    return f"{s:,.1f} s" if s < 100 else f"{s:,.0f} s ({s / 60:,.0f} min)" if s < 7200 else f"{s / 3600:,.1f} h"


def held_out_lines(h: HeldOut) -> list[str]:
    """The statement as lines of text: the pick's rank next to the searches', and their cost."""
    out = [f"Held-out dataset {h.dataset_name}: its runs were hidden; its full table has {h.configs:,} configs "
           f"(best {h.metric_name} {h.best_metric:.4g})."]
    for row in h.rows:
        label = LABELS.get(row.method, row.method)
        if row.evaluations:
            label += f", {row.evaluations} trials (mean of {row.seeds} seed{'s' if row.seeds > 1 else ''})"
            cost = f"its {row.evaluations} trainings took {_secs(row.train_s)}"
        else:
            cost = f"answered in {row.answer_s:.2f} s; training the pick once takes {_secs(row.train_s)}"
        top = 100.0 * row.rank / h.configs
        out.append(f"  {label}: rank {row.rank:,.0f} of {h.configs:,} (top {top:.1f}%), "
                   f"{h.metric_name} {row.metric:.4g}; {cost}")
    return out
