"""The analysis agent that proposes each next trial of `tune`, and `tune_lookup`, the entry point for
tuning without training (a callable evaluates each config: issue 6's lookup-mode evaluation).

The agent is a Proposer (tune/proposers/) chosen from the registry: with an LLM, the LLM's candidates
ranked by the refitted surrogate ("llm"); without one, the refitted surrogate's best untried config
("surrogate"); or any registered way by name. It also vets trial 1 (recommend's answer) against the
time cap and the table.
Tested in tests/tune/test_loop.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from metallmix_wandb.knowledge.records import MetaValue
from metallmix_wandb.recommend.record import ScoredConfig
from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.tune.loop import run_tune_loop
from metallmix_wandb.tune.objective import TimePolicy
from metallmix_wandb.tune.proposers import ProposerContext, make_proposer
from metallmix_wandb.tune.proposers.portfolio import SEED_TRIALS, portfolio_first
from metallmix_wandb.tune.records import Proposal, TrialResult, TuneOutcome, TuneTrial, config_key
from metallmix_wandb.tune.surrogate import TRIAL_WEIGHT, Surrogate

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.meta_learner.model import MetaLearner
    from metallmix_wandb.knowledge.records import Experiment
    from metallmix_wandb.llm.chat import ChatJSON
    from metallmix_wandb.recommend.record import Evidence


def _in_space(space: SearchSpace, configs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The table's configs as the space validates them (keys it does not know, e.g. dataset, dropped)."""
    out = []
    for c in configs:
        check = space.validate_config({k: v for k, v in space.flatten(c).items() if k in space.params})
        if check.ok and check.config is not None:
            out.append(check.config)
    return out


class TuneAgent:
    """A proposer for `run_tune_loop`: call it with the trials so far. It asks the registered proposer
    `proposer` (default: "llm" when given an LLM, else "surrogate"), built from these arguments."""

    def __init__(self, surrogate: Surrogate, meta: Mapping[str, MetaValue], space: SearchSpace, *,
                 policy: TimePolicy | None = None, llm: ChatJSON | None = None, evidence: Sequence[Evidence] = (),
                 shap_digest: str = "", metric: str = "test/acc", k: int = 3, max_repairs: int = 1,
                 explanation_max_chars: int | None = None, budget: int | None = None, seed: int = 0,
                 configs: Sequence[Mapping[str, Any]] | None = None, proposer: str | None = None,
                 task: str | None = None, portfolio: int = SEED_TRIALS) -> None:
        self.context = ProposerContext(
            learner=surrogate.learner, surrogate=surrogate, meta=dict(meta), space=space,
            policy=policy or TimePolicy(), llm=llm, evidence=list(evidence), shap_digest=shap_digest, metric=metric,
            k=k, max_repairs=max_repairs, explanation_max_chars=explanation_max_chars, budget=budget, seed=seed,
            task=task, portfolio=portfolio,
            configs=None if configs is None else _in_space(space, configs))  # a fixed pool (a table's)
        name = proposer or ("llm" if llm is not None else "surrogate")
        self.proposer = make_proposer(name, self.context)
        if name == "surrogate":  # without an LLM, the first trials are the meta-learner's portfolio
            self.proposer = portfolio_first(self.context, self.proposer)

    @property
    def policy(self) -> TimePolicy:
        return self.context.policy

    @property
    def goal(self) -> str:
        return self.context.goal

    @property
    def timings(self) -> list[dict[str, float]]:
        """Seconds per proposal (refit, search, total) when the proposer refits; else none."""
        timings: list[dict[str, float]] = getattr(self.proposer, "timings", [])
        return timings

    def __call__(self, trials: Sequence[TuneTrial]) -> Proposal | None:
        return self.proposer(trials)

    def vet_first(self, proposal: Proposal) -> Proposal:
        """Trial 1 is recommend's answer, unless it is predicted over `--max-train-time`."""
        cap, pred = self.policy.max_train_time_s, proposal.predicted
        allowed = self.context.allowed
        if allowed is not None and config_key(proposal.config) not in allowed:
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
    task: str | None = None,
    portfolio: int = SEED_TRIALS,
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
                      budget=budget, seed=seed, configs=configs, task=task, portfolio=portfolio)
    first = agent.vet_first(first or first_from_meta_learner(learner, meta, space, metric, seed))
    return run_tune_loop(evaluate_config, agent, space, budget=budget, first=first, target=target,
                         goal=policy.goal, on_trial=on_trial)
