"""recommend: meta-features -> similar experiments -> SHAP digest -> prompt -> LLM -> validated config
-> explanation -> judge. Logging and Launch happen after, in the CLI, on the returned record."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from metallmix_wandb.recommend.record import (
    Evidence, Recommendation, ScoredConfig, meta_learner_explanation, rank_candidates,
)
from metallmix_wandb.knowledge.records import MetaValue, Neighbour
from metallmix_wandb.space.search_space import SearchSpace

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.meta_learner.artifact import Knowledge
    from metallmix_wandb.knowledge.meta_learner.model import MetaLearner
    from metallmix_wandb.knowledge.store import ExperimentStore
    from metallmix_wandb.llm.ask import ChatJSON


class RecommendError(RuntimeError):
    """No valid configuration could be produced; nothing was logged or enqueued."""


class RecommendRequest(BaseModel):
    mode: Literal["meta-informed", "zero-shot"] = "meta-informed"
    top_k: int = 8
    candidates: int = 1
    use_llm: bool = True
    fallback: Literal["none", "meta-learner"] = "none"
    judge: bool = True
    judge_repeats: int = 3
    max_repairs: int = 2
    exclude_datasets: tuple[str, ...] = ()
    metric: str = "test/acc"
    time_metric: str = "train_time_s"
    seed: int = 0
    explanation_max_chars: int | None = Field(
        None, description="cap the explanation in the JSON schema (llama.cpp grammars enforce it; small "
        "local models otherwise ramble to the token limit); None for OpenAI-style strict schemas")


def recommendable_space(space: SearchSpace) -> SearchSpace:
    """The dataset is the user's, not a hyperparameter to recommend."""
    return space.without("dataset") if "dataset" in space.params else space


def _scored(learner: MetaLearner, meta: Mapping[str, MetaValue], configs: Sequence[dict]) -> list[ScoredConfig]:
    return [ScoredConfig(config=c, **p.model_dump()) for c, p in zip(configs, learner.predict(meta, configs), strict=True)]


def _evidence(neighbours: Sequence[Neighbour], metric: str) -> list[Evidence]:
    return [Evidence(run_path=n.experiment.run_path, dataset=n.experiment.dataset_name or n.experiment.dataset,
                     distance=n.distance, config=n.experiment.config, metric=n.experiment.summary.get(metric),
                     train_time_s=n.experiment.train_time_s) for n in neighbours]


def _meta_learner_choice(learner: MetaLearner, meta: Mapping[str, MetaValue], space: SearchSpace,
                         knowledge: Knowledge, req: RecommendRequest, reason: str | None) -> tuple[dict, str, ScoredConfig]:
    best = learner.best_config(meta, space, seed=req.seed)
    scored = ScoredConfig(config=best.config, **best.prediction.model_dump())
    return best.config, meta_learner_explanation(best.config, scored, knowledge.digest, req.metric, reason), scored


def recommend(
    meta: Mapping[str, MetaValue],
    space: SearchSpace,
    store: ExperimentStore,
    knowledge: Knowledge,
    req: RecommendRequest,
    llm: ChatJSON | None = None,
    judge_llm: ChatJSON | None = None,
    model_names: tuple[str | None, str | None] = (None, None),
    on_step: Callable[[str], None] = lambda _: None,
) -> Recommendation:
    t0 = time.perf_counter()
    space = recommendable_space(space)
    on_step("retrieving similar experiments")
    neighbours = store.search(dict(meta), k=req.top_k, exclude_datasets=req.exclude_datasets)
    t_retrieval = time.perf_counter() - t0
    learner = knowledge.learner()
    timings = {"retrieval_s": t_retrieval}
    rec: dict[str, Any] = {"warnings": [], "tokens": {}}

    if not req.use_llm or llm is None:
        config, explanation, predicted = _meta_learner_choice(learner, meta, space, knowledge, req, None)
        rec.update(source="meta-learner", candidates=[predicted])
    else:
        # The LLM loop, prompts and output checks are imported here: `--no-llm` never needs them.
        from metallmix_wandb.llm.ask import ask_for_configs
        from metallmix_wandb.recommend.prompts import answer_schema, recommendation_messages

        on_step("asking the LLM")
        t1 = time.perf_counter()
        messages = recommendation_messages(space, meta, neighbours, knowledge.digest, mode=req.mode,
                                           k=req.candidates, metric=req.metric, time_metric=req.time_metric)
        schema = answer_schema(space, req.candidates, explanation_max_chars=req.explanation_max_chars)
        outcome = ask_for_configs(llm, messages, space, k=req.candidates, max_repairs=req.max_repairs, schema=schema)
        timings["llm_s"] = time.perf_counter() - t1
        rec["tokens"] = {"prompt": outcome.prompt_tokens, "completion": outcome.completion_tokens}
        rec.update(raw_valid=outcome.first_valid, repairs=outcome.repairs,
                   raw_reply=outcome.attempts[-1].chat.text if outcome.attempts else "")
        if outcome.ok and outcome.answer is not None:
            candidates = _scored(learner, meta, outcome.answer.configs)
            chosen = rank_candidates(candidates)[0]
            config, explanation, predicted = chosen.config, outcome.answer.explanation, chosen
            rec.update(source="llm", candidates=candidates, llm_first_choice=candidates[0].config)
        elif req.fallback == "meta-learner":
            config, explanation, predicted = _meta_learner_choice(learner, meta, space, knowledge, req, outcome.failure)
            rec.update(source="meta-learner-fallback", candidates=[predicted])
            rec["warnings"].append(f"LLM fallback: {outcome.failure}")
        else:
            raise RecommendError(f"{outcome.failure}. Nothing was logged or enqueued; retry with "
                                 "--fallback meta-learner, --candidates K, or a stronger model.")

    final = space.validate_config(config)
    if not final.ok or final.config is None:  # every path above validates; this is the last gate
        raise RecommendError("internal: a config outside the space reached the end: " + "; ".join(final.errors))

    judge_scores: dict[str, float | None] = {}
    format_code = None
    if rec["source"] == "llm" and req.judge and (judge_llm or llm) is not None:
        from metallmix_wandb.llm.ask import judge
        from metallmix_wandb.llm.output import CRITERIA, format_score_of
        from metallmix_wandb.recommend.prompts import judge_messages, judge_schema

        on_step("judging the answer")
        t2 = time.perf_counter()
        format_code = format_score_of(rec["raw_reply"], space, max_configs=req.candidates)
        jm = judge_messages(space, meta, [final.config], explanation, rec["raw_reply"], neighbours, knowledge.digest,
                            time_metric=req.time_metric)
        rationale_cap = 100 if req.explanation_max_chars else None
        verdict = judge(judge_llm or llm, jm, repeats=req.judge_repeats, format_score_code=format_code,
                        schema=judge_schema(rationale_max_chars=rationale_cap))
        timings["judge_s"] = time.perf_counter() - t2
        judge_scores = {c: getattr(verdict.scores, c) for c in CRITERIA} | {"mean": verdict.scores.mean}
        rec["tokens"]["judge"] = verdict.tokens
        rec["warnings"].extend(f"judge: {e}" for e in verdict.errors)
    timings["total_s"] = time.perf_counter() - t0
    return Recommendation(
        config=final.config, explanation=explanation, mode=req.mode if rec["source"] == "llm" else "meta-learner",
        meta_features=dict(meta), evidence=_evidence(neighbours, req.metric), predicted=predicted,
        llm_model=model_names[0] if rec["source"] != "meta-learner" else None,
        judge_model=(model_names[1] or model_names[0]) if judge_scores else None, judge_scores=judge_scores,
        format_score_code=format_code, timings=timings, metric=req.metric, **rec,
    )
