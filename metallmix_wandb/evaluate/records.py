"""Leave-one-dataset-out evaluation: the records every method's answer becomes, the ranked summary,
the best-so-far curves, merging evaluations. Pure.

Every method (evaluate/methods/) answers the same question for a hidden dataset ("which config?") and
is scored the same way (evaluate/scoring.py). Higher metric is better throughout (log a negated loss
to evaluate a loss). Stochastic methods (random search, BO) run once per seed; their per-dataset
numbers are the mean over seeds before medians are taken across datasets, so every dataset weighs the
same. Tested in tests/evaluate/test_records.py.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from metallmix_wandb.evaluate.lookup import Score
from metallmix_wandb.knowledge.meta_learner.features import percentile_rank
from metallmix_wandb.llm.judge import CRITERIA
from metallmix_wandb.numbers import is_finite

Family = Literal["search", "meta", "llm"]
"""What kind of method answered: a budgeted search, a meta-learning method, an LLM."""


class MethodResult(BaseModel):
    """One method's answer for one hidden dataset (and seed), scored."""

    dataset: str
    dataset_name: str
    method: str = Field(description="the method's name (evaluate/methods), `<prefix>:<model>` for a method "
                        "run once per LLM (zero-shot:<model>, llm:<model>, tune:<model>)")
    family: Family
    model: str | None = None
    seed: int | None = None
    ok: bool = True
    error: str | None = None
    config: dict[str, Any] | None = None
    metric: float
    best_metric: float
    regret: float
    norm_regret: float
    percentile: float
    train_time_s: float | None = Field(None, description="training time of the chosen config")
    compute_s: float = Field(0.0, description="wall-clock the method itself spent here")
    search_train_s: float = Field(0.0, description="training time of every config a search had to run")
    evaluations: int = Field(0, description="configs trained to decide (the budget for RS/BO)")
    judge: dict[str, float | None] = Field(default_factory=dict)
    raw_valid: bool | None = Field(None, description="the LLM's first answer held a valid config")
    repairs: int = 0
    source: str | None = None
    explanation: str | None = None
    explanation_checked: bool = Field(False, description="the LLM wrote an explanation and the code checked it")
    explanation_rejected: str | None = Field(None, description="why the check rejected the LLM's explanation "
                                             "(the digest's was shown instead); None: kept or not checked")
    tokens: dict[str, int] = Field(default_factory=dict)
    curve: list[float] = Field(default_factory=list, description="percentile of the best config so far after "
                               "each trial (searches and tunes; empty for one-shot methods)")
    missing: bool = Field(False, description="the chosen config has no result in the lookup table: scored "
                          "as the dataset's worst")

    @property
    def response_s(self) -> float:
        """Time to an answer: the method's compute plus the training its search needed."""
        return self.compute_s + self.search_train_s

    @classmethod
    def scored(cls, score: Score, **fields: Any) -> MethodResult:
        """A result carrying `score`: one mapping from Score to result fields, whether the table (lookup
        mode) or a trained run against the known ones (train mode) produced the score."""
        return cls(metric=score.metric, best_metric=score.best_metric, regret=score.regret,
                   norm_regret=score.norm_regret, percentile=score.percentile,
                   train_time_s=score.train_time_s, missing=score.missing, **fields)


class MethodSummary(BaseModel):
    """One method across datasets (per-dataset means over seeds first)."""

    method: str
    family: Family
    datasets: int
    runs: int
    failures: int
    median_percentile: float
    mean_percentile: float
    mean_norm_regret: float
    median_regret: float
    mean_metric: float
    top1_rate: float = Field(description="share of datasets where it chose the best config (every seed)")
    median_response_s: float
    median_train_time_s: float | None = None
    validity_rate: float | None = Field(None, description="LLM answers valid before any repair")
    rejection_rate: float | None = Field(None, description="LLM explanations the code check rejected, of those "
                                         "checked")
    judge: dict[str, float | None] = Field(default_factory=dict)
    mean_dataset_rank: float = Field(description="mean rank by metric among the methods, per dataset (1 = best)")
    rank: int = 0


def _median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs)) if xs else math.nan


def _mean(xs: Sequence[float]) -> float:
    return float(statistics.fmean(xs)) if xs else math.nan


def per_dataset(results: Sequence[MethodResult]) -> dict[tuple[str, str], list[MethodResult]]:
    groups: dict[tuple[str, str], list[MethodResult]] = defaultdict(list)
    for r in results:
        groups[(r.method, r.dataset)].append(r)
    return dict(groups)


def dataset_ranks(results: Sequence[MethodResult]) -> dict[tuple[str, str], float]:
    """(method, dataset) -> rank of the method's mean metric among all methods on that dataset
    (1 = best, ties share the average rank)."""
    groups = per_dataset(results)
    by_dataset: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for (method, dataset), rs in groups.items():
        by_dataset[dataset].append((method, _mean([r.metric for r in rs])))
    out: dict[tuple[str, str], float] = {}
    for dataset, pairs in by_dataset.items():
        values = np.array([-v for _, v in pairs])
        order = percentile_rank(values) * (len(pairs) - 1) + 1 if len(pairs) > 1 else np.ones(1)
        for (method, _), rank in zip(pairs, order, strict=True):
            out[(method, dataset)] = float(rank)
    return out


def summarise_methods(results: Sequence[MethodResult]) -> list[MethodSummary]:
    """The ranked table: best median percentile first; ties by mean normalised regret, then speed."""
    groups = per_dataset(results)
    ranks = dataset_ranks(results)
    methods = list(dict.fromkeys(r.method for r in results))
    summaries = []
    for method in methods:
        cells = {d: rs for (m, d), rs in groups.items() if m == method}
        rows = [r for rs in cells.values() for r in rs]
        pct = [_mean([r.percentile for r in rs]) for rs in cells.values()]
        llm_rows = [r for r in rows if r.raw_valid is not None]
        checked = [r for r in rows if r.explanation_checked]
        times = [r.train_time_s for r in rows if r.train_time_s is not None]
        judge = {c: _mean(v) if (v := [r.judge[c] for r in rows if r.judge.get(c) is not None]) else None
                 for c in (*CRITERIA, "mean")}
        summaries.append(MethodSummary(
            method=method, family=rows[0].family, datasets=len(cells), runs=len(rows),
            failures=sum(not r.ok for r in rows), median_percentile=_median(pct), mean_percentile=_mean(pct),
            mean_norm_regret=_mean([_mean([r.norm_regret for r in rs]) for rs in cells.values()]),
            median_regret=_median([_mean([r.regret for r in rs]) for rs in cells.values()]),
            mean_metric=_mean([_mean([r.metric for r in rs]) for rs in cells.values()]),
            top1_rate=_mean([float(all(r.regret <= 0 for r in rs)) for rs in cells.values()]),
            median_response_s=_median([r.response_s for r in rows]),
            median_train_time_s=_median(times) if times else None,
            validity_rate=_mean([float(bool(r.raw_valid)) for r in llm_rows]) if llm_rows else None,
            rejection_rate=_mean([float(r.explanation_rejected is not None) for r in checked]) if checked else None,
            judge=judge if any(v is not None for v in judge.values()) else {},
            mean_dataset_rank=_mean([ranks[(method, d)] for d in cells]),
        ))
    summaries.sort(key=lambda s: (-_nan_low(s.median_percentile), _nan_high(s.mean_norm_regret),
                                  s.median_response_s, s.method))
    for i, s in enumerate(summaries, 1):
        s.rank = i
    return summaries


def _nan_low(x: float) -> float:
    return -math.inf if math.isnan(x) else x


def _nan_high(x: float) -> float:
    return math.inf if math.isnan(x) else x


CHECKPOINTS = (1, 3, 5, 10)


class CurvePoint(BaseModel):
    """One method's best-so-far after `n` trials, across datasets (per-dataset means over seeds first)."""

    method: str
    n: int
    datasets: int
    median_percentile: float
    mean_percentile: float


def best_so_far_curve(percentiles: Sequence[float]) -> list[float]:
    """Percentile of the best config so far after each trial (percentile is monotone in the metric,
    so the best config's percentile is the running maximum)."""
    return [float(x) for x in np.maximum.accumulate(np.asarray(percentiles, dtype=np.float64))] if percentiles else []


def at_trial(curve: Sequence[float], n: int) -> float:
    """The best-so-far after `n` trials; a run that stopped earlier (target reached, space exhausted)
    keeps its last value; no trial at all scores 0 (the worst config)."""
    return float(curve[min(n, len(curve)) - 1]) if curve else 0.0


def checkpoints_for(budget: int, ns: Sequence[int] = CHECKPOINTS) -> list[int]:
    return sorted({n for n in ns if n <= budget} | {budget})


def summarise_curves(results: Sequence[MethodResult], ns: Sequence[int]) -> list[CurvePoint]:
    """Median (and mean) over datasets of each budgeted method's best-so-far percentile at each n."""
    budgeted = {r.method for r in results if r.curve}
    groups = per_dataset([r for r in results if r.method in budgeted])
    methods = list(dict.fromkeys(m for m, _ in groups))
    out = []
    for method in methods:
        cells = [rs for (m, _), rs in groups.items() if m == method]
        for n in ns:
            per = [_mean([at_trial(r.curve, n) for r in rs]) for rs in cells]
            out.append(CurvePoint(method=method, n=n, datasets=len(cells), median_percentile=_median(per),
                                  mean_percentile=_mean(per)))
    return out


class EvaluationReport(BaseModel):
    """Everything an evaluation produced: what `report` and the W&B run are built from."""

    project: str
    metric: str
    mode: Literal["lookup", "train"] = "lookup"
    protocol: Literal["recommend", "tune"] = Field("recommend", description="recommend: each method chooses one "
                                                  "config; tune: each gets `budget` trials (best-so-far curves)")
    budget: int
    seeds: list[int]
    methods: list[str]
    datasets: list[str]
    space: dict[str, Any] = Field(description="the evaluated search space as a W&B sweep config")
    results: list[MethodResult]
    summary: list[MethodSummary]
    curves: list[CurvePoint] = Field(default_factory=list, description="best-so-far at the checkpoints")
    fold_seconds: dict[str, float] = Field(default_factory=dict, description="meta-learner fit per dataset")
    notes: list[str] = Field(default_factory=list)
    created_at: str | None = None
    wandb_run: str | None = None


def reference_score(reference: Sequence[float], value: float | None, train_time_s: float | None = None) -> Score:
    """Train mode: a trained config scored against the hidden dataset's known runs (no full table):
    its percentile among them (0 = below all, 1 = above all, ties count half) and its regret to the best
    known run (negative when it beats every known run). No value (training failed) scores as the worst."""
    ref = sorted(float(v) for v in reference if is_finite(v))
    if not ref:
        raise ValueError("train mode needs known runs of the hidden dataset to compare with")
    best, worst = ref[-1], ref[0]
    span = best - worst
    if value is None or not math.isfinite(value):
        return Score(metric=worst, best_metric=best, worst_metric=worst, regret=best - worst,
                     norm_regret=1.0 if span > 0 else 0.0, percentile=0.0)
    below = sum(v < value for v in ref)
    ties = sum(v == value for v in ref)
    return Score(metric=value, best_metric=best, worst_metric=worst, regret=best - value,
                 norm_regret=(best - value) / span if span > 0 else 0.0, percentile=(below + ties / 2) / len(ref),
                 train_time_s=train_time_s)


def merge_reports(reports: Sequence[EvaluationReport]) -> EvaluationReport:
    """Several evaluations of one project and metric as one (e.g. the baselines on every dataset and
    the LLMs on a few): results concatenated, a (method, dataset) evaluated twice keeps its later
    results, and the summary is recomputed. Each method's numbers cover the datasets it ran on (`notes`)."""
    if not reports:
        raise ValueError("no evaluation to merge")
    first = reports[0]
    if any(r.metric != first.metric for r in reports):
        raise ValueError(f"evaluations of different metrics: {sorted({r.metric for r in reports})}")
    cells: dict[tuple[str, str], list[MethodResult]] = {}
    for r in reports:  # a later evaluation of a (method, dataset) replaces the earlier one
        fresh: dict[tuple[str, str], list[MethodResult]] = {}
        for x in r.results:
            fresh.setdefault((x.method, x.dataset), []).append(x)
        cells.update(fresh)
    results = [x for rs in cells.values() for x in rs]
    datasets = list(dict.fromkeys(d for r in reports for d in r.datasets))
    notes = [n for r in reports for n in r.notes if not n.startswith("LLM methods ran on")]
    latest: dict[str, set[str]] = {}
    for method, dataset in cells:
        latest.setdefault(method, set()).add(dataset)
    covered = {m: len(d) for m, d in latest.items()}
    if len(set(covered.values())) > 1:
        notes.append("methods cover different datasets: " + ", ".join(f"{m} {n}" for m, n in covered.items()))
    return first.model_copy(update={
        "results": results, "summary": summarise_methods(results), "datasets": datasets, "notes": notes,
        "curves": summarise_curves(results, sorted({c.n for r in reports for c in r.curves})),
        "methods": list(latest), "seeds": sorted({s for r in reports for s in r.seeds}),
        "fold_seconds": {k: v for r in reports for k, v in r.fold_seconds.items()},
        "wandb_run": next((r.wandb_run for r in reversed(reports) if r.wandb_run), None)})
