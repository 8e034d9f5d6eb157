"""`tune:<model>` (`--method tune`, once per LLM and seed), as `tune --model`: trial 1 is `recommend`'s
meta-informed answer with that LLM (3 candidates ranked by the meta-learner, no judge), each next trial
one of the LLM's 3 candidates ranked by the refitted surrogate. An LLM that fails scores as the worst;
the other seeds and models go on. Tested through tests/evaluate/test_tune_mode.py."""

from __future__ import annotations

import time

from metallmix_wandb.evaluate.methods.base import FoldContext
from metallmix_wandb.evaluate.methods.tuned import tune_result
from metallmix_wandb.evaluate.records import Family, MethodResult
from metallmix_wandb.evaluate.request import EvalProtocol
from metallmix_wandb.llm.client import LLMError
from metallmix_wandb.recommend.pipeline import RecommendError, RecommendRequest, recommend
from metallmix_wandb.tune.agent import tune_lookup
from metallmix_wandb.tune.records import Proposal

CANDIDATES = 3
"""Configs the LLM proposes per ask, trial 1 included: `tune`'s default (`--candidates`)."""


class TuneWithLLM:
    name = "tune-llm"
    family: Family = "llm"
    protocols: tuple[EvalProtocol, ...] = ("tune",)
    switch = None
    per_model = True
    needs_fold = True

    def run(self, ctx: FoldContext) -> list[MethodResult]:
        scorer, req, llm, fold = ctx.trials(), ctx.request, ctx.model(), ctx.knowledge()
        method = f"tune:{llm.name}"
        out = []
        for seed in req.seeds:
            t0 = time.perf_counter()
            rreq = RecommendRequest(mode="meta-informed", top_k=req.top_k, candidates=CANDIDATES, judge=False,
                                    max_repairs=req.max_repairs, fallback="meta-learner",
                                    exclude_datasets=(ctx.dataset,), metric=req.metric, time_metric=req.time_metric,
                                    seed=seed, explanation_max_chars=req.explanation_max_chars)
            try:
                rec = recommend(ctx.meta, ctx.space, ctx.store, fold, rreq,  # type: ignore[arg-type]
                                llm.client, None, (llm.name, None))
                first = Proposal(config=rec.config, source=f"recommend:{rec.source}", reasoning=rec.explanation,
                                 predicted=rec.predicted, warnings=list(rec.warnings))
                outcome = tune_lookup(scorer.lookup, ctx.meta, ctx.space, fold.learner(), ctx.other_experiments,
                                      budget=req.budget, first=first, llm=llm.client, metric=req.metric,
                                      evidence=rec.evidence, shap_digest=fold.digest, k=CANDIDATES,
                                      max_repairs=min(req.max_repairs, 1),
                                      explanation_max_chars=req.explanation_max_chars, seed=seed)
            except (LLMError, RecommendError) as exc:  # scored as worst; the other seeds and models go on
                out.append(scorer.result(method, self.family, None, seed=seed, ok=False, error=str(exc)[:500],
                                         compute_s=time.perf_counter() - t0, model=llm.name))
                continue
            sources = [t.proposal.source for t in outcome.trials]
            out.append(tune_result(scorer, method, self.family, outcome, time.perf_counter() - t0, seed,
                                   model=llm.name, raw_valid=rec.raw_valid,
                                   source=f"{sum(s == 'llm' for s in sources)} of {len(sources)} trials chosen "
                                          f"from the LLM's candidates"))
        return out


TUNE_LLM = TuneWithLLM()
