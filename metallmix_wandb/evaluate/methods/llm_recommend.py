"""`zero-shot:<model>`, `llm:<model>` and `llm-candidates:<model>`: the `recommend` pipeline with each
LLM, zero-shot (the search space alone), meta-informed (the LLM chooses inside the fold's meta-learner's
confidence set, with the neighbours and SHAP digest as evidence) and `recommend --candidates 3` (the LLM
proposes 3 configs, the meta-learner picks), judged unless --no-judge. One module, three registered
methods: they differ only in what they ask recommend for. Tested through tests/evaluate/test_pipeline.py
and test_llm_candidates.py."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from metallmix_wandb.evaluate.methods.base import FoldContext
from metallmix_wandb.evaluate.records import Family, MethodResult
from metallmix_wandb.evaluate.request import EvalProtocol
from metallmix_wandb.recommend.pipeline import RecommendRequest, recommend

EXPLANATION_CHARS = 600
"""The explanation kept in a result (the full one is in the recommendation itself)."""


@dataclass(frozen=True)
class RecommendWithLLM:
    """recommend's answer with the model of ctx.llm, scored; a failed answer scores as the worst."""

    name: str
    prefix: str
    mode: Literal["zero-shot", "meta-informed"]
    switch: str | None
    candidates: int | None = None
    """None: recommend's default for the mode; K: the LLM proposes K configs (`recommend --candidates K`)."""
    family: Family = "llm"
    protocols: tuple[EvalProtocol, ...] = ("recommend",)
    per_model: bool = True
    needs_fold: bool = True

    def run(self, ctx: FoldContext) -> list[MethodResult]:
        llm, req = ctx.model(), ctx.request
        method = f"{self.prefix}:{llm.name}"
        rreq = RecommendRequest(mode=self.mode, candidates=self.candidates, top_k=req.top_k, judge=req.judge,
                                judge_repeats=req.judge_repeats, max_repairs=req.max_repairs,
                                exclude_datasets=(ctx.dataset,), metric=req.metric, time_metric=req.time_metric,
                                explanation_max_chars=req.explanation_max_chars)
        t0 = time.perf_counter()
        try:
            rec = recommend(ctx.meta, ctx.space, ctx.store, ctx.knowledge(), rreq,  # type: ignore[arg-type]
                            llm.client, llm.judge_client or llm.client, (llm.name, llm.judge_name or llm.name))
        except Exception as exc:  # noqa: BLE001 - RecommendError, LLMError: a failed answer, scored as worst
            return [ctx.scorer.result(method, self.family, None, model=llm.name, ok=False, error=str(exc)[:500],
                                      compute_s=time.perf_counter() - t0, raw_valid=False)]
        compute = rec.timings.get("total_s", 0.0) - rec.timings.get("judge_s", 0.0)
        return [ctx.scorer.result(method, self.family, rec.config, model=llm.name, compute_s=compute,
                                  judge=dict(rec.judge_scores), raw_valid=bool(rec.raw_valid), repairs=rec.repairs,
                                  source=rec.source, explanation=rec.explanation[:EXPLANATION_CHARS],
                                  explanation_checked=rec.llm_explanation is not None,
                                  explanation_rejected=rec.explanation_rejected,
                                  tokens={k: v for k, v in rec.tokens.items() if isinstance(v, int)})]


ZERO_SHOT = RecommendWithLLM(name="zero-shot", prefix="zero-shot", mode="zero-shot", switch="zero-shot")
"""A --baselines choice: the LLM with the search space alone."""
META_INFORMED = RecommendWithLLM(name="llm", prefix="llm", mode="meta-informed", switch=None)
"""Always on when LLMs are evaluated: the product's answer."""
LLM_CANDIDATES = RecommendWithLLM(name="llm-candidates", prefix="llm-candidates", mode="meta-informed",
                                  switch="llm-candidates", candidates=3)
"""A --baselines choice: `recommend --candidates 3`, the LLM proposes and the meta-learner picks."""
