"""evaluate: leave-one-dataset-out. For each dataset: hide its runs, let every method choose a config
for it, score the choice against the lookup table (exact metric, regret, percentile).

Methods: `random` and `bayes` (budgeted searches against the table, once per seed), `meta-learner`
(argmax of a meta-learner fitted without the hidden dataset), `nearest` (best run of the nearest
dataset in the knowledge base), `global-best` (best mean percentile across the other datasets),
`zero-shot:<model>` and `llm:<model>` (the `recommend` pipeline, zero-shot and meta-informed, on
the fold's knowledge). With `protocol="tune"` every method gets `budget` trials instead
(evaluate/tune_mode.py) and the report adds best-so-far curves. Logging and printing happen in
the CLI, on the returned report.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from metallmix_wandb.evaluate.records import (
    BASELINES,
    EvaluationReport,
    Family,
    MethodResult,
    best_config_of,
    best_so_far_curve,
    checkpoints_for,
    global_best_config,
    random_search,
    summarise_curves,
    summarise_methods,
)
from metallmix_wandb.evaluate.lookup import LookupTable, Score
from metallmix_wandb.knowledge.records import Experiment, MetaValue
from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.evaluate.fold import FoldKnowledge, fit_fold
from metallmix_wandb.recommend.pipeline import recommendable_space

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.store import ExperimentStore
    from metallmix_wandb.tune.records import TrialResult

EXPLANATION_CHARS = 600


class EvaluationError(ValueError):
    """The evaluation cannot run (too few datasets, no overlap with the lookup table...)."""


class LLMEndpoint(BaseModel):
    """One model to evaluate; clients are anything with `chat_json` (an LLMClient, or a fake)."""

    model_config = {"arbitrary_types_allowed": True}

    name: str
    client: Any
    judge_client: Any = None
    judge_name: str | None = None


class EvaluateRequest(BaseModel):
    protocol: Literal["recommend", "tune"] = Field("recommend", description="recommend: every method chooses one "
                                                   "config; tune: every method gets `budget` trials")
    project: str = ""
    metric: str = "test/acc"
    time_metric: str = "train_time_s"
    budget: int = Field(20, ge=1)
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2])
    baselines: list[str] = Field(default_factory=lambda: list(BASELINES))
    datasets: list[str] | None = Field(None, description="evaluate only these (names or dataset values)")
    llm_datasets: int | None = Field(None, description="run the LLM methods on the first N datasets only")
    top_k: int = 8
    judge: bool = True
    judge_repeats: int = 1
    max_repairs: int = 2
    explanation_max_chars: int | None = None
    n_jobs: int = 1

    def search_runs(self) -> list[tuple[str, int]]:
        """The (search, seed) pairs asked for, random before bayes, then by seed: one rule for lookup
        and train mode, so both run the same searches and report them in the same order."""
        return [(method, seed) for method in ("random", "bayes") if method in self.baselines
                for seed in self.seeds]


def _group(experiments: Sequence[Experiment]) -> dict[str, list[Experiment]]:
    out: dict[str, list[Experiment]] = {}
    for e in sorted(experiments, key=lambda e: e.run_path):
        out.setdefault(e.dataset, []).append(e)
    return out


def _meta(exps: Sequence[Experiment]) -> dict[str, MetaValue]:
    meta: dict[str, MetaValue] = {}
    for e in exps:
        meta.update(e.meta_features)
    return meta


def _select(groups: dict[str, list[Experiment]], table: LookupTable | None, wanted: Sequence[str] | None) -> list[str]:
    names = {d: (exps[0].dataset_name or d) for d, exps in groups.items()}
    chosen = [d for d in sorted(groups) if table is None or d in table.datasets]
    if wanted:
        chosen = [d for d in chosen if d in wanted or names[d] in wanted]
        missing = [w for w in wanted if w not in chosen and w not in {names[d] for d in chosen}]
        if missing:
            raise EvaluationError(f"not in both the knowledge base and the lookup table: {missing}")
    if not chosen:
        raise EvaluationError("no dataset is in both the knowledge base and the lookup table")
    if len(groups) < 2:
        raise EvaluationError("leave-one-dataset-out needs runs of at least two datasets")
    for d in chosen:
        if table is not None:
            table.require_complete(d)
    return chosen


class _Scorer:
    """Turns a method's choice into a MethodResult, by the table."""

    def __init__(self, table: LookupTable, dataset: str, name: str) -> None:
        self.table, self.dataset, self.name = table, dataset, name

    def objective(self, config: dict[str, Any]) -> float:
        v = self.table.value(self.dataset, config)
        return v if v is not None else -math.inf

    def trials_cost(self, configs: Sequence[dict[str, Any]]) -> float:
        return sum(t for c in configs if (t := self.table.time(self.dataset, c)) is not None)

    def curve(self, configs: Sequence[dict[str, Any] | None]) -> list[float]:
        """Best-so-far percentile after each trial (a config the table lacks scores as the worst)."""
        return best_so_far_curve([self.table.score(self.dataset, c).percentile for c in configs])

    def lookup(self, config: dict[str, Any]) -> TrialResult:
        """A tune trial in lookup mode: the table's row for this config."""
        from metallmix_wandb.tune.records import TrialResult

        value = self.table.value(self.dataset, config)
        if value is None:
            return TrialResult(config=config, status="crashed", error="the table has no result for this config")
        return TrialResult(config=config, metric=value, train_time_s=self.table.time(self.dataset, config))

    def searches(self, space: SearchSpace, req: EvaluateRequest) -> list[MethodResult]:
        """Random search and BO (gp_minimize) against the table, once per seed."""
        out = []
        for method, seed in req.search_runs():
            t0 = time.perf_counter()
            if method == "random":
                trace = random_search(space, self.objective, req.budget, seed)
            else:
                from metallmix_wandb.evaluate.bayes_search import bayes_search

                trace = bayes_search(space, self.objective, req.budget, seed)
            out.append(self.result(method, "search", trace.best_config, seed=seed,
                                   compute_s=time.perf_counter() - t0, evaluations=len(trace.configs),
                                   search_train_s=self.trials_cost(trace.configs), curve=self.curve(trace.configs)))
        return out

    def result(self, method: str, family: Family, config: dict[str, Any] | None, **extra: Any) -> MethodResult:
        score: Score = self.table.score(self.dataset, config)
        return MethodResult.scored(score, dataset=self.dataset, dataset_name=self.name, method=method,
                                   family=family, config=config, **extra)


def _meta_methods(scorer: Any, space: SearchSpace, fold: FoldKnowledge, meta: dict[str, MetaValue],
                  others: dict[str, list[Experiment]], store: ExperimentStore, req: EvaluateRequest) -> list[MethodResult]:
    out = []
    if "meta-learner" in req.baselines:
        best = fold.learner().best_config(meta, space, seed=0)
        out.append(scorer.result("meta-learner", "meta", best.config, compute_s=best.seconds, source="meta-learner"))
    if "nearest" in req.baselines:
        t0 = time.perf_counter()
        hits = store.search(dict(meta), k=1, exclude_datasets=[scorer.dataset])
        config = best_config_of(others[hits[0].experiment.dataset], space, req.metric) if hits else None
        out.append(scorer.result("nearest", "meta", config, compute_s=time.perf_counter() - t0, ok=config is not None,
                                 source=hits[0].experiment.dataset_name if hits else None,
                                 error=None if config else "no neighbour with a config inside the space"))
    if "global-best" in req.baselines:
        t0 = time.perf_counter()
        config = global_best_config([e for exps in others.values() for e in exps], space, req.metric)
        out.append(scorer.result("global-best", "meta", config, compute_s=time.perf_counter() - t0,
                                 ok=config is not None, error=None if config else "no config inside the space"))
    return out


def _llm_methods(scorer: Any, space: SearchSpace, fold: FoldKnowledge, meta: dict[str, MetaValue],
                 store: ExperimentStore, llms: Sequence[LLMEndpoint], req: EvaluateRequest) -> list[MethodResult]:
    from metallmix_wandb.recommend.pipeline import RecommendRequest, recommend

    out = []
    modes = (["zero-shot"] if "zero-shot" in req.baselines else []) + ["meta-informed"]
    for llm in llms:
        for mode in modes:
            method = f"{'zero-shot' if mode == 'zero-shot' else 'llm'}:{llm.name}"
            rreq = RecommendRequest(mode=mode, top_k=req.top_k, judge=req.judge, judge_repeats=req.judge_repeats,
                                    max_repairs=req.max_repairs, exclude_datasets=(scorer.dataset,),
                                    metric=req.metric, time_metric=req.time_metric,
                                    explanation_max_chars=req.explanation_max_chars)
            t0 = time.perf_counter()
            try:
                rec = recommend(meta, space, store, fold, rreq, llm.client, llm.judge_client or llm.client,  # type: ignore[arg-type]
                                (llm.name, llm.judge_name or llm.name))
            except Exception as exc:  # noqa: BLE001 - RecommendError, LLMError: a failed answer, scored as worst
                out.append(scorer.result(method, "llm", None, model=llm.name, ok=False, error=str(exc)[:500],
                                         compute_s=time.perf_counter() - t0, raw_valid=False))
                continue
            compute = rec.timings.get("total_s", 0.0) - rec.timings.get("judge_s", 0.0)
            out.append(scorer.result(method, "llm", rec.config, model=llm.name, compute_s=compute,
                                     judge=dict(rec.judge_scores), raw_valid=bool(rec.raw_valid), repairs=rec.repairs,
                                     source=rec.source, explanation=rec.explanation[:EXPLANATION_CHARS],
                                     tokens={k: v for k, v in rec.tokens.items() if isinstance(v, int)}))
    return out


def evaluate(experiments: Sequence[Experiment], store: ExperimentStore, space: SearchSpace, table: LookupTable | None,
             req: EvaluateRequest, llms: Sequence[LLMEndpoint] = (),
             on_step: Callable[[str], None] = lambda _: None, trainer: Any = None) -> EvaluationReport:
    """Run every method on every selected dataset (LODO) and return the scored, ranked report. With a
    lookup `table` every choice is scored exactly; with a `trainer` instead (train mode) every choice
    is trained (evaluate/train_mode.py) and compared with the dataset's known runs."""
    if (table is None) == (trainer is None):
        raise EvaluationError("pass a lookup table (lookup mode) or a trainer (train mode)")
    if req.protocol == "tune" and table is None:
        raise EvaluationError("--method tune runs in lookup mode only (each trial looks up the table): pass --lookup")
    space = recommendable_space(space)
    groups = _group(experiments)
    datasets = _select(groups, table, req.datasets)
    results: list[MethodResult] = []
    fold_seconds: dict[str, float] = {}
    tune = req.protocol == "tune"
    needs_fold = tune or any(b in req.baselines for b in ("meta-learner", "nearest", "global-best")) or bool(llms)
    for i, dataset in enumerate(datasets):
        exps = groups[dataset]
        name = exps[0].dataset_name or dataset
        if table is not None:
            scorer: Any = _Scorer(table, dataset, name)
        else:
            from metallmix_wandb.evaluate.train_mode import TrainScorer

            scorer = TrainScorer(trainer, dataset, name, [e.summary.get(req.metric) for e in exps])
        on_step(f"{name}: searches")
        results += scorer.searches(space, req)
        if not needs_fold:
            continue
        others = {d: e for d, e in groups.items() if d != dataset}
        use_llm = bool(llms) and (req.llm_datasets is None or i < req.llm_datasets)
        on_step(f"{name}: fitting the meta-learner without it")
        fold = fit_fold([e for es in others.values() for e in es], space, req.metric, n_jobs=req.n_jobs,
                        with_digest=use_llm, project=req.project)
        fold_seconds[name] = fold.seconds
        meta = _meta(exps)
        if tune:
            from metallmix_wandb.evaluate.tune_mode import llm_tune_methods, tune_methods

            on_step(f"{name}: tuning ({req.budget} trials x {len(req.seeds)} seeds)")
            others_flat = [e for es in others.values() for e in es]
            results += tune_methods(scorer, space, fold, meta, others_flat, req)
            if use_llm:
                on_step(f"{name}: tuning with the LLM(s)")
                results += llm_tune_methods(scorer, space, fold, meta, others_flat, store, llms, req)
            continue
        results += _meta_methods(scorer, space, fold, meta, others, store, req)
        if use_llm:
            on_step(f"{name}: asking the LLM(s)")
            results += _llm_methods(scorer, space, fold, meta, store, llms, req)
    methods = list(dict.fromkeys(r.method for r in results))
    notes = []
    if req.llm_datasets is not None and llms:
        notes.append(f"LLM methods ran on the first {min(req.llm_datasets, len(datasets))} of {len(datasets)} datasets")
    return EvaluationReport(
        project=req.project, metric=req.metric, mode="lookup" if table is not None else "train",
        protocol=req.protocol, budget=req.budget, seeds=list(req.seeds), methods=methods,
        datasets=[groups[d][0].dataset_name or d for d in datasets], space=space.to_sweep_config(),
        results=results, summary=summarise_methods(results),
        curves=summarise_curves(results, checkpoints_for(req.budget)) if tune else [], fold_seconds=fold_seconds, notes=notes,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
