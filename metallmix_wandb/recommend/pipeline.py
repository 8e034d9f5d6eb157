"""recommend: meta-features -> similar experiments -> SHAP digest -> prompt -> LLM -> validated config
-> explanation -> judge. Each branch (meta-learner, LLM, meta-learner after the LLM failed) produces
a typed `Choice`; logging and Launch happen after, in recommend/command.py, on the returned record.

Tested end to end through the command (tests/cli/test_recommend_cli.py, tests/recommend/) and by the
evaluation (tests/evaluate/test_pipeline.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from metallmix_wandb.knowledge.records import MetaValue, Neighbour
from metallmix_wandb.recommend.candidates import OFFER, TIE
from metallmix_wandb.recommend.record import (
    Choice, Evidence, Recommendation, ScoredConfig, meta_learner_explanation, rank_candidates,
)
from metallmix_wandb.space.search_space import SearchSpace

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.meta_learner.artifact import Knowledge
    from metallmix_wandb.knowledge.meta_learner.model import MetaLearner
    from metallmix_wandb.knowledge.store import ExperimentStore
    from metallmix_wandb.llm.ask import RepairOutcome
    from metallmix_wandb.llm.chat import ChatJSON
    from metallmix_wandb.llm.judge import JudgeOutcome


class RecommendError(RuntimeError):
    """No valid configuration could be produced; nothing was logged or enqueued."""


class RecommendRequest(BaseModel):
    mode: Literal["meta-informed", "zero-shot"] = "meta-informed"
    top_k: int = 8
    candidates: int | None = Field(
        None, description="None: meta-informed, the LLM chooses among `offer` candidates of the meta-learner's "
        "confidence set; K: the LLM proposes up to K configs and the meta-learner picks (zero-shot: 1)")
    offer: int = Field(OFFER, ge=2, le=10, description="candidates offered when the LLM chooses inside the set")
    configs: int = Field(1, ge=1, le=10, description="configs the meta-learner returns without an LLM: N > 1 is "
                         "its portfolio for a budget of N evaluations (`MetaLearner.recommend_n`), best first")
    tie: float = Field(TIE, ge=0.0, le=1.0, description="largest predicted-percentile gap below the best "
                       "candidate at which the LLM's pick stands (recommend/candidates.py TIE)")
    use_llm: bool = True
    fallback: Literal["none", "meta-learner"] = "none"
    judge: bool = True
    judge_repeats: int = 3
    exclusive_pick: bool = Field(
        False, description="the choice's schema has two shapes, an id with a null config or 0 with a config "
        "(recommend/candidates.py pick_schema): llama.cpp's grammar takes it, OpenAI's strict mode does not")
    judge_rubric: Literal["full", "short"] = Field(
        "full", description="the judge's rubric after a meta-informed prompt (llm/judge.py JUDGE_RUBRICS): "
        "short for the embedded demo model, whose every prompt token costs ~7 ms on 2 cores")
    max_repairs: int = 2
    exclude_datasets: tuple[str, ...] = ()
    metric: str = "test/acc"
    time_metric: str = "train_time_s"
    seed: int = 0
    task: str | None = Field(None, description="the project's task for the prompts (else the space's description)")
    explanation: Literal["text", "json"] = Field(
        "text", description="where the LLM writes its explanation when it chooses inside the set: a second, "
        "plain-text call (text; fewer rejected explanations, benchmarks/explanation_bench.py) or the JSON")
    explanation_max_chars: int | None = Field(
        None, description="cap the explanation in the JSON schema (llama.cpp grammars enforce it; small "
        "local models otherwise ramble to the token limit); None for OpenAI-style strict schemas")

    @property
    def chooses(self) -> bool:
        """The LLM chooses inside the meta-learner's confidence set (the meta-informed default)."""
        return self.mode == "meta-informed" and self.candidates is None

    @property
    def proposals(self) -> int:
        """How many configs the LLM is asked to propose when it does not choose inside the set."""
        return self.candidates or 1


EMBEDDED_EXPLANATION_CHARS = 400
"""The embedded demo model's explanation cap: the tiny model rambles to the token limit without one."""
EMBEDDED_OFFER = 4
"""Candidates offered to the embedded demo model (6 otherwise): each row is ~40 prompt tokens it reads at
~140 tokens/s on a 2-core CPU, and it copies the first candidate or the nearest run anyway."""
EMBEDDED_TOP_K = 5
"""Similar experiments in the embedded demo model's prompt (8 otherwise): ~36 prompt tokens a row."""


def for_embedded_model(req: RecommendRequest, judge_repeats: int | None = None, *, offer: int | None = None,
                       top_k: int | None = None) -> RecommendRequest:
    """`req` as `recommend` sends it to the embedded SmolLM2 demo model (no --base-url), on whatever CPU
    this is: a capped explanation, one judge call with the short rubric, `EMBEDDED_OFFER` candidates and
    `EMBEDDED_TOP_K` experiments, no config written after an offered id (its server is llama.cpp), unless
    the user asked for other numbers (`judge_repeats`, `offer`, `top_k`: the command line's, None when
    not given). The choice stays inside the meta-learner's confidence set
    (its guard does not depend on how many are offered). What an Ollama / LM Studio model gets is not
    changed here."""
    return req.model_copy(update={"explanation_max_chars": EMBEDDED_EXPLANATION_CHARS,
                                  "judge_repeats": judge_repeats or 1, "judge_rubric": "short",
                                  "exclusive_pick": True,
                                  "offer": offer or EMBEDDED_OFFER,
                                  "top_k": top_k or min(req.top_k, EMBEDDED_TOP_K)})


def recommendable_space(space: SearchSpace) -> SearchSpace:
    """The dataset is the user's, not a hyperparameter to recommend."""
    return space.without("dataset") if "dataset" in space.params else space


def unseen_parameters(space: SearchSpace, known: SearchSpace) -> list[str]:
    """The tunable parameters of a `--space` that the meta-learner's space lacks: it never saw them
    vary, so any value it gave them would be a guess presented as a recommendation."""
    return [n for n in recommendable_space(space).tunable if n not in known.params]


def _scored(learner: MetaLearner, meta: Mapping[str, MetaValue], configs: Sequence[dict]) -> list[ScoredConfig]:
    return [ScoredConfig(config=c, **p.model_dump()) for c, p in zip(configs, learner.predict(meta, configs), strict=True)]


def _evidence(neighbours: Sequence[Neighbour], metric: str) -> list[Evidence]:
    return [Evidence(run_path=n.experiment.run_path, dataset=n.experiment.dataset_name or n.experiment.dataset,
                     distance=n.distance, config=n.experiment.config, metric=n.experiment.summary.get(metric),
                     train_time_s=n.experiment.train_time_s) for n in neighbours]


def _meta_learner_choice(learner: MetaLearner, meta: Mapping[str, MetaValue], space: SearchSpace,
                         knowledge: Knowledge, req: RecommendRequest, after: RepairOutcome | None = None) -> Choice:
    """The meta-learner's best config: on its own, or `after` the LLM gave no valid one (then the
    failure is explained and warned about, and what asking the LLM cost is kept)."""
    if after is None and req.configs > 1:  # the portfolio's first is the recommendation: one search, not two
        portfolio = _scored(learner, meta, learner.recommend_n(meta, space, n=req.configs, seed=req.seed))
    else:
        best = learner.best_config(meta, space, seed=req.seed)
        portfolio = [ScoredConfig(config=best.config, **best.prediction.model_dump())]
    scored = portfolio[0]
    reason = after.failure if after is not None else None
    explanation = meta_learner_explanation(scored.config, scored, knowledge.digest, req.metric, reason)
    if after is None:
        return Choice(source="meta-learner", config=scored.config, explanation=explanation, predicted=scored,
                      candidates=portfolio)
    return Choice(source="meta-learner-fallback", config=scored.config, explanation=explanation, predicted=scored,
                  candidates=[scored], warnings=[f"LLM fallback: {after.failure}"], **_asked(after))


def _asked(outcome: RepairOutcome) -> dict[str, Any]:
    """What asking the LLM gave and cost, whatever came of it."""
    return {
        "tokens": {"prompt": outcome.prompt_tokens, "completion": outcome.completion_tokens},
        "raw_valid": outcome.first_valid, "repairs": outcome.repairs,
        "raw_reply": outcome.attempts[-1].chat.text if outcome.attempts else "",
    }


def _ask_llm(llm: ChatJSON, meta: Mapping[str, MetaValue], space: SearchSpace, neighbours: Sequence[Neighbour],
             knowledge: Knowledge, req: RecommendRequest) -> tuple[RepairOutcome, list[dict[str, str]]]:
    # The LLM loop, prompts and output checks are imported here: `--no-llm` never needs them.
    from metallmix_wandb.llm.ask import ask_for_configs
    from metallmix_wandb.llm.schemas import answer_schema
    from metallmix_wandb.recommend.prompts import evidence_digest, recommendation_messages

    messages = recommendation_messages(space, meta, neighbours, evidence_digest(knowledge), mode=req.mode,
                                       k=req.proposals, metric=req.metric, time_metric=req.time_metric,
                                       task=req.task)
    schema = answer_schema(space, req.proposals, explanation_max_chars=req.explanation_max_chars)
    outcome = ask_for_configs(llm, messages, space, k=req.proposals, max_repairs=req.max_repairs, schema=schema)
    return outcome, messages


def _llm_choice(outcome: RepairOutcome, learner: MetaLearner, meta: Mapping[str, MetaValue], space: SearchSpace,
                knowledge: Knowledge, req: RecommendRequest, prompt: list[dict[str, str]]) -> Choice:
    """The meta-learner's pick among the LLM's valid configs; or, with `--fallback meta-learner`, its own
    best config; or RecommendError."""
    if outcome.ok and outcome.answer is not None:
        candidates = _scored(learner, meta, outcome.answer.configs)
        chosen = rank_candidates(candidates)[0]
        if req.mode == "meta-informed":  # zero-shot stays LLM-Cash's baseline: the LLM's configs alone
            kept = _kept_unless_tied(chosen, learner, meta, space, knowledge, req, candidates)
            if kept is not None:
                return kept.model_copy(update=_asked(outcome))
        evidence = prompt if req.mode == "meta-informed" else []  # zero-shot's prompt holds no evidence to judge by
        return Choice(source="llm", config=chosen.config, explanation=outcome.answer.explanation, predicted=chosen,
                      candidates=candidates, llm_first_choice=candidates[0].config, prompt=evidence, **_asked(outcome))
    if req.fallback == "meta-learner":
        return _meta_learner_choice(learner, meta, space, knowledge, req, after=outcome)
    raise RecommendError(f"{outcome.failure}. Nothing was logged or enqueued; retry with "
                         "--fallback meta-learner, --candidates K, or a stronger model.")


def _kept_unless_tied(chosen: ScoredConfig, learner: MetaLearner, meta: Mapping[str, MetaValue], space: SearchSpace,
                      knowledge: Knowledge, req: RecommendRequest, proposed: list[ScoredConfig]) -> Choice | None:
    """--candidates K, meta-informed: the LLM's best-ranked proposal stands only when it is tied with the
    meta-learner's own best config (the confidence-set rule of recommend/candidates.py); otherwise the
    meta-learner's best is kept and the output says why (None: the LLM's proposal stands). A weak model
    that proposes poor configs then cannot pull the answer below what the meta-learner would give."""
    from metallmix_wandb.recommend.candidates import OWN, decide
    from metallmix_wandb.recommend.record import Candidate

    found = learner.best_config(meta, space, seed=req.seed)
    best = ScoredConfig(config=found.config, **found.prediction.model_dump())
    decision = decide([Candidate(id=1, scored=best)], OWN, own=chosen, tie=req.tie)  # the one rule, one wording
    if not decision.overruled:
        return None
    explanation = meta_learner_explanation(best.config, best, knowledge.digest, req.metric)
    return Choice(source="meta-learner-fallback", config=best.config, predicted=best,
                  explanation=f"The LLM's proposals were overruled: {decision.reason}.\n\n{explanation}",
                  candidates=[*proposed, best], llm_first_choice=proposed[0].config,
                  warnings=[f"LLM's proposals overruled: {decision.reason}"])


def _checked_explanation(choice: Choice, knowledge: Knowledge, meta: Mapping[str, MetaValue],
                         neighbours: Sequence[Neighbour], req: RecommendRequest) -> tuple[str, str | None]:
    """(the explanation to show, why the LLM's failed the check or None): the LLM's when it is real
    text naming the chosen values and quoting only numbers it was shown, else the digest's, marked."""
    from metallmix_wandb.recommend.choose import shap_effects
    from metallmix_wandb.recommend.explanation_check import check_explanation

    key = [f.feature for f in knowledge.summary.features if f.source == "param"]
    stated = [r.mean_shap for r in shap_effects(choice.config, knowledge, list(choice.config))]  # told the LLM
    sources = [_evidence(neighbours, req.metric), knowledge.digest, choice.predicted, dict(meta)]
    every = [(e.value, e.mean_shap) for f in knowledge.summary.features if f.source == "param" for e in f.by_value
             if e.low is None]  # binned numeric values have no one value to name
    verdict = check_explanation(choice.explanation, choice.config, key_params=key, sources=sources, effects=stated,
                                value_effects=every)
    if verdict.ok:
        return choice.explanation, None
    fallback = meta_learner_explanation(choice.config, choice.predicted, knowledge.digest, req.metric)
    return f"LLM explanation rejected: {verdict.reason}.\n\n{fallback}", verdict.reason


def _judge(judge_llm: ChatJSON, choice: Choice, config: dict[str, Any], meta: Mapping[str, MetaValue],
           space: SearchSpace, neighbours: Sequence[Neighbour], knowledge: Knowledge,
           req: RecommendRequest) -> JudgeOutcome:
    """The judge's scores. After a meta-informed prompt the judge continues it (`judge_followup`: the same
    evidence, read once by a server with a prompt cache); else it gets the evidence on its own."""
    from metallmix_wandb.llm.judge import judge, judge_followup, judge_messages, judge_schema
    from metallmix_wandb.llm.output import format_score_of

    if choice.choice_set is not None:
        from metallmix_wandb.recommend.candidates import pick_format_score

        format_code = pick_format_score(choice.raw_reply, len(choice.choice_set.offered), space)
    else:
        format_code = format_score_of(choice.raw_reply, space, max_configs=req.proposals)
    if choice.prompt:
        jm = judge_followup(choice.prompt, [config], choice.explanation, choice.raw_reply, rubric=req.judge_rubric)
    else:
        from metallmix_wandb.recommend.prompts import candidate_table, evidence_digest, task_of

        offered = candidate_table(choice.choice_set.offered, space) if choice.choice_set is not None else None
        jm = judge_messages(space, meta, [config], choice.explanation, choice.raw_reply, neighbours,
                            evidence_digest(knowledge), time_metric=req.time_metric, metric=req.metric,
                            candidates=offered, task=task_of(space, req.task))
    rationale_cap = 100 if req.explanation_max_chars else None
    return judge(judge_llm, jm, repeats=req.judge_repeats, format_score_code=format_code,
                 schema=judge_schema(rationale_max_chars=rationale_cap))


def recommend(
    meta: Mapping[str, MetaValue],
    space: SearchSpace,
    store: ExperimentStore | None,
    knowledge: Knowledge,
    req: RecommendRequest,
    llm: ChatJSON | None = None,
    judge_llm: ChatJSON | None = None,
    model_names: tuple[str | None, str | None] = (None, None),
    on_step: Callable[[str], None] = lambda _: None,
) -> Recommendation:
    """`store` None: no similar experiments are read (only the meta-learner's path can do without them)."""
    t0 = time.perf_counter()
    space = recommendable_space(space)
    on_step("retrieving similar experiments")
    neighbours = [] if store is None else store.search(dict(meta), k=req.top_k,
                                                       exclude_datasets=req.exclude_datasets)
    timings = {"retrieval_s": time.perf_counter() - t0}
    learner = knowledge.learner()

    if not req.use_llm or llm is None:
        choice = _meta_learner_choice(learner, meta, space, knowledge, req)
    elif req.chooses:
        from metallmix_wandb.recommend.choose import choose_in_set

        on_step("asking the LLM to choose among the meta-learner's candidates")
        t1 = time.perf_counter()
        choice = choose_in_set(llm, learner, meta, space, neighbours, knowledge, n=req.offer, metric=req.metric,
                               time_metric=req.time_metric, max_repairs=req.max_repairs,
                               explanation_max_chars=req.explanation_max_chars, seed=req.seed, tie=req.tie,
                               task=req.task, explanation=req.explanation, exclusive=req.exclusive_pick)
        timings["llm_s"] = time.perf_counter() - t1
    else:
        on_step("asking the LLM")
        t1 = time.perf_counter()
        outcome, prompt = _ask_llm(llm, meta, space, neighbours, knowledge, req)
        timings["llm_s"] = time.perf_counter() - t1
        choice = _llm_choice(outcome, learner, meta, space, knowledge, req, prompt)

    final = space.validate_config(choice.config)
    if not final.ok or final.config is None:  # every path above validates; this is the last gate
        raise RecommendError("internal: a config outside the space reached the end: " + "; ".join(final.errors))

    judge_scores: dict[str, float | None] = {}
    format_code, judge_error = None, None
    tokens, warnings = dict(choice.tokens), list(choice.warnings)
    judge_with = judge_llm or llm
    if choice.llm_answered and req.judge and judge_with is not None:
        from metallmix_wandb.llm.client import LLMError

        on_step("judging the answer")
        t2 = time.perf_counter()
        try:
            verdict = _judge(judge_with, choice, final.config, meta, space, neighbours, knowledge, req)
        except LLMError as exc:  # the answer is valid without a judge: keep it, mark the scores missing
            judge_error = f"the judge was unavailable ({exc}); its scores are missing"
            warnings.append(f"judge: {judge_error}")
        else:
            judge_scores, format_code = verdict.scores.by_criterion(), verdict.format_score_code
            tokens["judge"] = verdict.tokens
            warnings.extend(f"judge: {e}" for e in verdict.errors)
        timings["judge_s"] = time.perf_counter() - t2
    explanation, rejected = choice.explanation, None
    if choice.llm_answered:  # checked after the judge, which scores the LLM's own words
        explanation, rejected = _checked_explanation(choice, knowledge, meta, neighbours, req)
        if rejected:
            warnings.append(f"LLM explanation rejected: {rejected}")
    timings["total_s"] = time.perf_counter() - t0
    return Recommendation(
        config=final.config, explanation=explanation, source=choice.source,
        llm_explanation=choice.explanation if choice.llm_answered else None, explanation_rejected=rejected,
        mode=req.mode if choice.llm_answered else "meta-learner", meta_features=dict(meta),
        evidence=_evidence(neighbours, req.metric), predicted=choice.predicted, candidates=choice.candidates,
        llm_first_choice=choice.llm_first_choice, choice_set=choice.choice_set,
        llm_model=model_names[0] if choice.llm_asked else None,
        judge_model=(model_names[1] or model_names[0]) if judge_scores or judge_error else None,
        judge_scores=judge_scores, judge_error=judge_error,
        format_score_code=format_code, raw_reply=choice.raw_reply, raw_valid=choice.raw_valid,
        repairs=choice.repairs, timings=timings, tokens=tokens, warnings=warnings, metric=req.metric,
    )
