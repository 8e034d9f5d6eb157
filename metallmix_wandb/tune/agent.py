"""The analysis agent that proposes each next trial of `tune`, and `tune_lookup`, the entry point for
tuning without training (a callable evaluates each config: issue 6's lookup-mode evaluation).

Each proposal refits the surrogate (the meta-learner + this dataset's finished trials), then:
- without an LLM: the surrogate's best untried config (time-penalised or capped per the objective);
- with an LLM: the Trajectory Context Summarizer's view of the trials, the evidence and the SHAP
  digest go into the tune prompt; the LLM's valid, untried candidates are ranked by the surrogate.
  No valid candidate, or an unreachable LLM, falls back to the surrogate with a warning (an
  unreachable LLM is not asked again in this tune: each retry would cost its full timeout).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from metallmix_wandb.tune.surrogate import (
    TRIAL_WEIGHT,
    Candidate,
    Surrogate,
    best_untried,
    score_configs,
)
from metallmix_wandb.llm.ask import ask_for_configs
from metallmix_wandb.llm.schemas import answer_schema
from metallmix_wandb.recommend.record import ScoredConfig
from metallmix_wandb.knowledge.records import MetaValue
from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.tune.digest import digest_trials
from metallmix_wandb.tune.objective import TimePolicy, TimeScale, describe_policy
from metallmix_wandb.tune.prompts import tune_messages
from metallmix_wandb.tune.records import (
    Proposal,
    TrialResult,
    TuneOutcome,
    TuneTrial,
    best_trial,
    config_key,
)
from metallmix_wandb.tune.loop import run_tune_loop

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.meta_learner.model import MetaLearner
    from metallmix_wandb.llm.chat import ChatJSON
    from metallmix_wandb.recommend.record import Evidence
    from metallmix_wandb.knowledge.records import Experiment


def _in_space(space: SearchSpace, configs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The table's configs as the space validates them (keys it does not know, e.g. dataset, dropped)."""
    out = []
    for c in configs:
        check = space.validate_config({k: v for k, v in space.flatten(c).items() if k in space.params})
        if check.ok and check.config is not None:
            out.append(check.config)
    return out


def scored(c: Candidate) -> ScoredConfig:
    return ScoredConfig(config=c.config, **c.prediction.model_dump())


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


class TuneAgent:
    """A proposer for `run_tune_loop`: call it with the trials so far."""

    def __init__(self, surrogate: Surrogate, meta: Mapping[str, MetaValue], space: SearchSpace, *,
                 policy: TimePolicy | None = None, llm: ChatJSON | None = None, evidence: Sequence[Evidence] = (),
                 shap_digest: str = "", metric: str = "test/acc", k: int = 3, max_repairs: int = 1,
                 explanation_max_chars: int | None = None, budget: int | None = None, seed: int = 0,
                 configs: Sequence[Mapping[str, Any]] | None = None) -> None:
        self.surrogate, self.meta, self.space = surrogate, dict(meta), space
        self.configs = None if configs is None else _in_space(space, configs)  # a fixed pool (a table's)
        self.allowed = {config_key(c) for c in self.configs} if self.configs is not None else None
        self.policy = policy or TimePolicy()
        self.llm, self.evidence, self.shap_digest, self.metric = llm, list(evidence), shap_digest, metric
        self.k, self.max_repairs, self.explanation_max_chars = k, max_repairs, explanation_max_chars
        self.budget, self.seed = budget, seed
        self.timings: list[dict[str, float]] = []

    @property
    def goal(self) -> str:
        return self.policy.goal

    def __call__(self, trials: Sequence[TuneTrial]) -> Proposal | None:
        t0 = time.perf_counter()
        learner = self.surrogate.refit(self.meta, trials)
        t1 = time.perf_counter()
        tried = {config_key(t.result.config) for t in trials}
        done = sorted((t for t in trials if t.result.ok), key=lambda t: -(t.result.metric or 0.0)
                      * (1 if self.goal == "maximize" else -1))
        best, scale = best_untried(learner, self.meta, self.space, tried, self.policy,
                                   seeds=[t.result.config for t in done[:2]], seed=self.seed + len(trials),
                                   configs=self.configs)
        t2 = time.perf_counter()
        warnings: list[str] = []
        proposal = None
        if self.llm is not None:
            proposal = self._ask_llm(learner, trials, tried, scale, warnings)
        self.timings.append({"refit_s": t1 - t0, "search_s": t2 - t1, "total_s": time.perf_counter() - t0})
        if proposal is None and best is not None:
            proposal = Proposal(config=best.config, source="surrogate", predicted=scored(best), utility=best.utility,
                                reasoning=self._surrogate_reasoning(best, trials))
            if best.over_time_cap:
                warnings.append("no untried config is predicted inside --max-train-time: the fastest untried one")
        if proposal is not None:
            proposal.warnings = warnings + proposal.warnings
        return proposal

    def vet_first(self, proposal: Proposal) -> Proposal:
        """Trial 1 is recommend's answer, unless it is predicted over `--max-train-time`."""
        cap, pred = self.policy.max_train_time_s, proposal.predicted
        if self.allowed is not None and config_key(proposal.config) not in self.allowed:
            why = "is not in the table"
        elif cap is not None and pred is not None and pred.train_time_s > cap:
            why = f"is predicted to train ~{pred.train_time_s:.0f} s, over --max-train-time {cap:g} s"
        else:
            return proposal
        alt = self([])
        if alt is None:
            return proposal
        alt.warnings.append(f"recommend's answer {why}: replaced by the surrogate's choice")
        return alt

    # ------------------------------------------------------------------ the LLM path

    def _ask_llm(self, learner: MetaLearner, trials: Sequence[TuneTrial], tried: set[str], scale: TimeScale,
                 warnings: list[str]) -> Proposal | None:
        from metallmix_wandb.llm.client import LLMError

        digest = digest_trials(trials, self.goal, params=list(self.space.tunable))
        messages = tune_messages(self.space, self.meta, trials, digest, evidence=self.evidence,
                                 shap_digest=self.shap_digest, metric=self.metric, goal=self.goal,
                                 objective=self.policy.objective, max_train_time_s=self.policy.max_train_time_s,
                                 budget=self.budget, k=self.k)
        schema = answer_schema(self.space, self.k, explanation_max_chars=self.explanation_max_chars)
        try:
            outcome = ask_for_configs(self.llm, messages, self.space, k=self.k, max_repairs=self.max_repairs,
                                      schema=schema)
        except LLMError as exc:
            warnings.append(f"LLM unreachable ({exc}); the surrogate chooses this and every later trial")
            self.llm = None
            return None
        tokens = {"prompt": outcome.prompt_tokens, "completion": outcome.completion_tokens}
        if not outcome.ok or outcome.answer is None:
            warnings.append(f"LLM gave no valid config ({outcome.failure}); the surrogate's choice instead")
            return None
        fresh, seen = [], set(tried)
        for c in outcome.answer.configs:
            if config_key(c) not in seen:
                fresh.append(c)
                seen.add(config_key(c))
        if self.allowed is not None:
            fresh = [c for c in fresh if config_key(c) in self.allowed]
        if not fresh:
            what = "already tried" if self.allowed is None else "already tried or not in the table"
            warnings.append(f"every LLM candidate was {what}; the surrogate's choice instead")
            return None
        cands = score_configs(learner, self.meta, fresh, self.policy, scale)
        inside = [c for c in cands if not c.over_time_cap]
        if not inside:
            warnings.append("every LLM candidate is predicted over --max-train-time; the surrogate's choice instead")
            return None
        chosen = max(inside, key=lambda c: c.utility)  # the first of equals: the LLM's order
        rank = cands.index(chosen) + 1
        p = chosen.prediction
        note = (f"[{len(cands)} new LLM candidate(s); the surrogate ranked the LLM's #{rank} first: percentile "
                f"{p.score:.0%}, {self.metric} ~ {p.raw_metric:.3f}, ~{p.train_time_s:.0f} s]")
        return Proposal(config=chosen.config, source="llm", reasoning=f"{outcome.answer.explanation}\n\n{note}",
                        predicted=scored(chosen), utility=chosen.utility, candidates=[scored(c) for c in cands],
                        llm_s=outcome.latency_s, tokens=tokens)

    # ------------------------------------------------------------------ explanations

    def _surrogate_reasoning(self, cand: Candidate, trials: Sequence[TuneTrial]) -> str:
        p = cand.prediction
        ok = sum(t.result.ok for t in trials)
        crashed = len(trials) - ok
        refit = (f"the meta-learner refitted with {ok} finished trial(s)"
                 + (f" and {crashed} crashed one(s)" if crashed else "")
                 + f" of this dataset (each weighted x{self.surrogate.trial_weight:g} against "
                 f"{self.surrogate.base_rows} past runs)") if trials else "the meta-learner"
        text = (f"Surrogate choice: {refit} ranks this config first among the untried ones "
                f"({describe_policy(self.policy)}): predicted percentile {p.score:.0%} (80% interval "
                f"{p.low:.0%}-{p.high:.0%}), {self.metric} ~ {p.raw_metric:.3f}, training ~{p.train_time_s:.0f} s.")
        best = best_trial(trials, self.goal)
        if best is not None:
            diff = [f"{k} {_fmt(best.result.config.get(k))} -> {_fmt(v)}" for k, v in cand.config.items()
                    if config_key({k: best.result.config.get(k)}) != config_key({k: v})]
            text += (f" Best so far: trial {best.number} ({self.metric} {best.result.metric:.4f}); this config "
                     f"changes {', '.join(diff) or 'nothing'}.")
        return text


def first_from_meta_learner(learner: MetaLearner, meta: Mapping[str, MetaValue], space: SearchSpace,
                            metric: str = "test/acc", seed: int = 0) -> Proposal:
    """Trial 1 as `recommend --no-llm` answers: the meta-learner's best config."""
    best = learner.best_config(meta, space, seed=seed)
    p = best.prediction
    return Proposal(config=best.config, source="recommend:meta-learner",
                    predicted=ScoredConfig(config=best.config, **p.model_dump()),
                    reasoning=(f"recommend's answer (the meta-learner's best config): predicted percentile "
                               f"{p.score:.0%}, {metric} ~ {p.raw_metric:.3f}, training ~{p.train_time_s:.0f} s."))


def tune_lookup(
    evaluate_config: Callable[[dict], TrialResult],
    meta: Mapping[str, MetaValue],
    space: SearchSpace,
    learner: MetaLearner,
    base_experiments: Sequence[Experiment],
    *,
    budget: int,
    first: Proposal | None = None,
    llm: ChatJSON | None = None,
    policy: TimePolicy | None = None,
    metric: str = "test/acc",
    target: float | None = None,
    evidence: Sequence[Evidence] = (),
    shap_digest: str = "",
    k: int = 3,
    max_repairs: int = 1,
    explanation_max_chars: int | None = None,
    trial_weight: float = TRIAL_WEIGHT,
    seed: int = 0,
    configs: Sequence[Mapping[str, Any]] | None = None,
    on_trial: Callable[[TuneTrial], None] = lambda t: None,
) -> TuneOutcome:
    """Tune without training: `evaluate_config(config)` returns each trial's result (e.g. a row of a
    table of results, with `status="crashed"` for a config the table marks as failed).

    For a leave-one-dataset-out evaluation, `learner` and `base_experiments` must both exclude the
    held-out dataset. Trial 1 is `first` (e.g. a `recommend` answer) or the meta-learner's best
    config; `space` may still hold `dataset` (it is removed). `configs`: when the table holds only some
    configs of the space, the only ones proposed (recommend's answer too is replaced when outside)."""
    from metallmix_wandb.recommend.pipeline import recommendable_space

    space = recommendable_space(space)
    policy = policy or TimePolicy()
    surrogate = Surrogate(learner, base_experiments, metric, trial_weight=trial_weight, goal=policy.goal,
                          space=space)
    agent = TuneAgent(surrogate, meta, space, policy=policy, llm=llm, evidence=evidence, shap_digest=shap_digest,
                      metric=metric, k=k, max_repairs=max_repairs, explanation_max_chars=explanation_max_chars,
                      budget=budget, seed=seed, configs=configs)
    first = agent.vet_first(first or first_from_meta_learner(learner, meta, space, metric, seed))
    return run_tune_loop(evaluate_config, agent, space, budget=budget, first=first, target=target,
                         goal=policy.goal, on_trial=on_trial)
