"""`evaluate --method tune`: the few-trial methods of a leave-one-dataset-out fold, in lookup mode.

Each method gets the same budget of trials on the hidden dataset, every trial a row of the table:
- `tune`: `tune_lookup` without an LLM (trial 1 = the fold's meta-learner's best config, each next
  trial the surrogate refitted with the trials so far), once per seed;
- `meta-learner-topn`: the same search over the fold's meta-learner, never refitted (the ablation
  that shows what the refit adds);
- `tune:<model>`: as `tune --model`: trial 1 = `recommend`'s meta-informed answer with that LLM (3
  candidates ranked by the meta-learner, no judge), each next trial the LLM's 3 candidates ranked by
  the refitted surrogate.
Random search and BO run at the same budget and seeds in `evaluate/pipeline.py`. Each result keeps
the best config after the budget and the best-so-far percentile after every trial (`curve`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from metallmix_wandb.evaluate.records import MethodResult
from metallmix_wandb.knowledge.records import Experiment, MetaValue
from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.tune.records import Proposal, TuneOutcome

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.store import ExperimentStore
    from metallmix_wandb.evaluate.pipeline import EvaluateRequest, LLMEndpoint, _Scorer
    from metallmix_wandb.evaluate.fold import FoldKnowledge

TOPN = "meta-learner-topn"
CANDIDATES = 3
"""Configs the LLM proposes per ask, trial 1 included: `tune`'s default (`--candidates`)."""


def _result(scorer: _Scorer, method: str, family: str, outcome: TuneOutcome, seconds: float, seed: int,
            **extra: Any) -> MethodResult:
    best = outcome.best_trial
    configs = [t.result.config for t in outcome.trials]
    return scorer.result(method, family, best.result.config if best else None, seed=seed, compute_s=seconds,
                         evaluations=len(configs), search_train_s=scorer.trials_cost(configs),
                         curve=scorer.curve(configs), ok=best is not None,
                         error=None if best else "no finished trial", **extra)


def _failed(scorer: _Scorer, method: str, family: str, seed: int, error: str, seconds: float,
            **extra: Any) -> MethodResult:
    return scorer.result(method, family, None, seed=seed, ok=False, error=error[:500], compute_s=seconds, **extra)


def _topn(scorer: _Scorer, space: SearchSpace, fold: FoldKnowledge, meta: Mapping[str, MetaValue],
          budget: int, seed: int) -> TuneOutcome:
    """The stored meta-learner's best untried config, trial after trial, never refitted."""
    from metallmix_wandb.tune.surrogate import best_untried
    from metallmix_wandb.tune.objective import TimePolicy
    from metallmix_wandb.tune.records import TuneTrial, config_key
    from metallmix_wandb.tune.agent import first_from_meta_learner
    from metallmix_wandb.tune.loop import run_tune_loop

    learner, policy = fold.learner(), TimePolicy()

    def propose(trials: Sequence[TuneTrial]) -> Proposal | None:
        tried = {config_key(t.result.config) for t in trials}
        best, _ = best_untried(learner, meta, space, tried, policy, seed=seed + len(trials))
        return None if best is None else Proposal(config=best.config, source="meta-learner")

    first = first_from_meta_learner(learner, meta, space, seed=seed)
    return run_tune_loop(scorer.lookup, propose, space, budget=budget, first=first)


def tune_methods(scorer: _Scorer, space: SearchSpace, fold: FoldKnowledge, meta: dict[str, MetaValue],
                 others: Sequence[Experiment], req: EvaluateRequest) -> list[MethodResult]:
    """`tune` (no LLM) and `meta-learner-topn` on one hidden dataset, once per seed (as `baselines` asks)."""
    from metallmix_wandb.tune.agent import tune_lookup

    out = []
    for seed in req.seeds:
        if "tune" in req.baselines:
            t0 = time.perf_counter()
            outcome = tune_lookup(scorer.lookup, meta, space, fold.learner(), others, budget=req.budget,
                                  metric=req.metric, seed=seed)
            out.append(_result(scorer, "tune", "meta", outcome, time.perf_counter() - t0, seed, source="surrogate"))
        if "meta-learner" in req.baselines:
            t0 = time.perf_counter()
            outcome = _topn(scorer, space, fold, meta, req.budget, seed)
            out.append(_result(scorer, TOPN, "meta", outcome, time.perf_counter() - t0, seed, source="meta-learner"))
    return out


def llm_tune_methods(scorer: _Scorer, space: SearchSpace, fold: FoldKnowledge, meta: dict[str, MetaValue],
                     others: Sequence[Experiment], store: ExperimentStore, llms: Sequence[LLMEndpoint],
                     req: EvaluateRequest) -> list[MethodResult]:
    """`tune:<model>` per model and seed: recommend's answer first, then the LLM proposing each trial."""
    from metallmix_wandb.llm.client import LLMError
    from metallmix_wandb.recommend.pipeline import RecommendError, RecommendRequest, recommend
    from metallmix_wandb.tune.agent import tune_lookup

    out = []
    for llm in llms:
        method = f"tune:{llm.name}"
        for seed in req.seeds:
            t0 = time.perf_counter()
            rreq = RecommendRequest(mode="meta-informed", top_k=req.top_k, candidates=CANDIDATES, judge=False,
                                    max_repairs=req.max_repairs,
                                    fallback="meta-learner", exclude_datasets=(scorer.dataset,), metric=req.metric,
                                    time_metric=req.time_metric, seed=seed,
                                    explanation_max_chars=req.explanation_max_chars)
            try:
                rec = recommend(meta, space, store, fold, rreq, llm.client, None, (llm.name, None))  # type: ignore[arg-type]
                first = Proposal(config=rec.config, source=f"recommend:{rec.source}", reasoning=rec.explanation,
                                 predicted=rec.predicted, warnings=list(rec.warnings))
                outcome = tune_lookup(scorer.lookup, meta, space, fold.learner(), others, budget=req.budget,
                                      first=first, llm=llm.client, metric=req.metric, evidence=rec.evidence,
                                      shap_digest=fold.digest, k=CANDIDATES, max_repairs=min(req.max_repairs, 1),
                                      explanation_max_chars=req.explanation_max_chars, seed=seed)
            except (LLMError, RecommendError) as exc:  # scored as worst; the other seeds and models go on
                out.append(_failed(scorer, method, "llm", seed, str(exc), time.perf_counter() - t0, model=llm.name))
                continue
            sources = [t.proposal.source for t in outcome.trials]
            out.append(_result(scorer, method, "llm", outcome, time.perf_counter() - t0, seed, model=llm.name,
                               source=f"{sum(s == 'llm' for s in sources)} of {len(sources)} trials chosen "
                                      f"from the LLM's candidates", raw_valid=rec.raw_valid))
    return out
