"""tune: recommend's answer as trial 1, then the analysis agent's proposals, each trained (or looked up)
and summarised, until the budget, the target, or Ctrl-C. The CLI builds the parts (knowledge, runs,
LLM endpoint, trial runner, tune run, state file) and hands them here."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from metallmix_wandb.tune.state import TuneState, save_state
from metallmix_wandb.tune.surrogate import TRIAL_WEIGHT, Surrogate
from metallmix_wandb.tune.trials import epoch_rows, read_run
from metallmix_wandb.knowledge.records import MetaValue
from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.knowledge.trajectory import summarise_curve
from metallmix_wandb.tune.objective import TimePolicy
from metallmix_wandb.tune.records import Proposal, TrialResult, TuneOutcome, TuneTrial
from metallmix_wandb.recommend.pipeline import recommendable_space
from metallmix_wandb.tune.agent import TuneAgent
from metallmix_wandb.tune.proposers.portfolio import SEED_TRIALS
from metallmix_wandb.tune.loop import outcome_of, run_tune_loop

if TYPE_CHECKING:
    from pathlib import Path

    from metallmix_wandb.knowledge.meta_learner.artifact import Knowledge
    from metallmix_wandb.knowledge.store import ExperimentStore
    from metallmix_wandb.tune.log import TuneRunLogger
    from metallmix_wandb.llm.chat import ChatJSON
    from metallmix_wandb.recommend.record import Evidence
    from metallmix_wandb.knowledge.records import Experiment


class TuneRequest(BaseModel):
    budget: int = Field(ge=1)
    target: float | None = None
    policy: TimePolicy = Field(default_factory=TimePolicy)
    use_llm: bool = True
    candidates: int = Field(3, ge=1, le=10, description="configs the LLM proposes per trial")
    max_repairs: int = 1
    top_k: int = Field(4, ge=1, description="similar experiments in the prompts")
    metric: str = "test/acc"
    time_metric: str = "train_time_s"
    curve_metric: str = "val/acc"
    seed: int = 0
    trial_weight: float = TRIAL_WEIGHT
    explanation_max_chars: int | None = None
    task: str | None = Field(None, description="the project's task for the prompts (else the space's description)")
    portfolio: int = Field(SEED_TRIALS, ge=1, description="without an LLM, trials from the meta-learner's portfolio "
                           "(recommend's answer its first) before the refitted surrogate chooses")


def goal_for(space: SearchSpace, metric: str) -> str:
    """The sweep YAML's goal for this metric; accuracy-like metrics are maximised otherwise."""
    if space.metric is not None and space.metric.name == metric:
        return space.metric.goal
    from metallmix_wandb.knowledge.trajectory import goal_of

    return goal_of(metric)


def first_trial(meta: Mapping[str, MetaValue], space: SearchSpace, store: ExperimentStore, knowledge: Knowledge,
                req: TuneRequest, llm: ChatJSON | None = None,
                model: str | None = None) -> tuple[Proposal, list[Evidence]]:
    """Trial 1 = `recommend`'s answer (no judge; the meta-learner when the LLM fails or is unreachable)."""
    from metallmix_wandb.llm.client import LLMError
    from metallmix_wandb.recommend.pipeline import RecommendRequest, recommend

    rreq = RecommendRequest(top_k=req.top_k, candidates=req.candidates, use_llm=req.use_llm and llm is not None,
                            fallback="meta-learner", judge=False, max_repairs=req.max_repairs, metric=req.metric,
                            time_metric=req.time_metric, seed=req.seed, explanation_max_chars=req.explanation_max_chars,
                            task=req.task)
    warnings = []
    try:
        rec = recommend(meta, space, store, knowledge, rreq, llm, None, (model, None))
    except LLMError as exc:
        warnings.append(f"LLM unreachable for trial 1 ({exc}); recommend's meta-learner answer instead")
        rec = recommend(meta, space, store, knowledge, rreq.model_copy(update={"use_llm": False}))
    proposal = Proposal(config=rec.config, source=f"recommend:{rec.source}", reasoning=rec.explanation,
                        predicted=rec.predicted, candidates=rec.candidates, warnings=warnings + rec.warnings,
                        llm_s=rec.timings.get("llm_s"), tokens=rec.tokens)
    return proposal, list(rec.evidence)


def refresh_from_runs(trials: Sequence[TuneTrial], curve_metric: str) -> list[TuneTrial]:
    """On resume: each trained trial's history read back from its W&B run folder."""
    out = []
    for t in trials:
        raw = read_run(t.result.run_dir, wait_s=0.0) if t.result.run_dir else None
        if raw is not None:
            result = t.result.model_copy(update={"history": epoch_rows(raw.history)})
            curve = summarise_curve(result.history, curve_metric, train_time_s=result.train_time_s,
                                    crashed=not result.ok)
            t = t.model_copy(update={"result": result, "curve": curve})
        out.append(t)
    return out


def run_tune(
    *,
    meta: Mapping[str, MetaValue],
    space: SearchSpace,
    knowledge: Knowledge,
    base_experiments: Sequence[Experiment],
    state: TuneState,
    state_file: Path,
    evaluate_config: Callable[[dict], TrialResult],
    req: TuneRequest,
    first: Proposal | None = None,
    llm: ChatJSON | None = None,
    logger: TuneRunLogger | None = None,
    on_proposal: Callable[[int, Proposal], None] = lambda n, p: None,
    on_trial: Callable[[TuneTrial], None] = lambda t: None,
) -> TuneOutcome:
    """Continue `state` (empty for a new tune) up to `req.budget` trials; the state file and the tune
    run are updated after every trial and closed at the end (status stopped on Ctrl-C)."""
    space = recommendable_space(space)
    policy = req.policy.model_copy(update={"goal": goal_for(space, req.metric)})
    surrogate = Surrogate(knowledge.learner(), base_experiments, req.metric, trial_weight=req.trial_weight,
                          goal=policy.goal, space=space)
    agent = TuneAgent(surrogate, meta, space, policy=policy, llm=llm if req.use_llm else None,
                      evidence=state.evidence[: req.top_k], shap_digest=knowledge.digest, metric=req.metric,
                      k=req.candidates, max_repairs=req.max_repairs, explanation_max_chars=req.explanation_max_chars,
                      budget=req.budget, seed=req.seed, task=req.task, portfolio=req.portfolio)
    previous = refresh_from_runs(state.trials, req.curve_metric)
    state.trials = list(previous)
    if first is not None and not previous:
        first = agent.vet_first(first)

    def record(trial: TuneTrial) -> None:
        state.trials.append(trial)
        save_state(state, state_file)
        if logger is not None:
            logger.log_trial(trial)
        on_trial(trial)

    state.status = "running"
    save_state(state, state_file)

    def close(outcome: TuneOutcome, stopped: bool) -> None:
        state.status = "stopped" if stopped else "finished"
        save_state(state, state_file)
        if logger is not None:
            extra: dict[str, Any] = {"tune/resumed_from": len(previous)}
            if agent.timings:
                extra["tune/agent_refit_s_mean"] = sum(t["refit_s"] for t in agent.timings) / len(agent.timings)
            logger.finish(outcome, stopped, extra)

    try:
        outcome = run_tune_loop(evaluate_config, agent, space, budget=req.budget, first=first, previous=previous,
                                target=req.target, goal=policy.goal, curve_metric=req.curve_metric,
                                on_proposal=on_proposal, on_trial=record)
    except Exception as exc:  # a runner that cannot run at all (e.g. no queue): keep what finished
        close(outcome_of(state.trials, "interrupted", policy.goal, [f"stopped by an error: {exc}"]), True)
        raise
    close(outcome, outcome.stop_reason == "interrupted")
    return outcome
