"""The surrogate's way to choose the next trial: the meta-learner refitted with the trials so far
(tune/surrogate.py), then its best untried config, time-penalised or capped per the objective.

Its two halves (`step`: refit + search; `finish`: the surrogate's proposal unless another was made)
are also what the LLM proposer starts from and falls back to. Tested in tests/tune/test_loop.py
(through tune_lookup and TuneAgent) and tests/tune/proposers/test_registry.py.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from metallmix_wandb.numbers import short
from metallmix_wandb.tune.objective import TimeScale, describe_policy
from metallmix_wandb.tune.proposers.base import ProposerContext
from metallmix_wandb.tune.records import Proposal, TuneTrial, best_trial, config_key
from metallmix_wandb.tune.surrogate import Candidate, best_untried

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.meta_learner.model import MetaLearner


@dataclass
class SurrogateStep:
    """One refit + search: the surrogate's choice, and the refitted learner and time scale that any
    other candidates (the LLM's) are scored with."""

    learner: MetaLearner
    tried: set[str]
    best: Candidate | None
    scale: TimeScale
    started: float
    refit_s: float
    search_s: float


class SurrogateProposer:
    """The refitted surrogate's best untried config."""

    def __init__(self, context: ProposerContext) -> None:
        if context.surrogate is None:
            raise ValueError("the surrogate proposer needs a surrogate (the meta-learner to refit)")
        self.context, self.surrogate = context, context.surrogate
        self.timings: list[dict[str, float]] = []

    def __call__(self, trials: Sequence[TuneTrial]) -> Proposal | None:
        return self.finish(self.step(trials), None, trials, [])

    def step(self, trials: Sequence[TuneTrial]) -> SurrogateStep:
        """Refit with the trials, then search the space (around the two best trials) for the best untried."""
        c = self.context
        t0 = time.perf_counter()
        learner = self.surrogate.refit(c.meta, trials)
        t1 = time.perf_counter()
        tried = {config_key(t.result.config) for t in trials}
        done = sorted((t for t in trials if t.result.ok), key=lambda t: -(t.result.metric or 0.0)
                      * (1 if c.goal == "maximize" else -1))
        best, scale = best_untried(learner, c.meta, c.space, tried, c.policy,
                                   seeds=[t.result.config for t in done[:2]], seed=c.seed + len(trials),
                                   configs=c.configs)
        return SurrogateStep(learner, tried, best, scale, t0, t1 - t0, time.perf_counter() - t1)

    def finish(self, step: SurrogateStep, proposal: Proposal | None, trials: Sequence[TuneTrial],
               warnings: list[str]) -> Proposal | None:
        """Record the step's timings; `proposal` (another's) else the surrogate's, `warnings` first."""
        self.timings.append({"refit_s": step.refit_s, "search_s": step.search_s,
                             "total_s": time.perf_counter() - step.started})
        best = step.best
        if proposal is None and best is not None:
            proposal = Proposal(config=best.config, source="surrogate", predicted=best.scored(), utility=best.utility,
                                reasoning=self.reasoning(best, trials))
            if best.over_time_cap:
                warnings.append("no untried config is predicted inside --max-train-time: the fastest untried one")
        if proposal is not None:
            proposal.warnings = warnings + proposal.warnings
        return proposal

    def reasoning(self, cand: Candidate, trials: Sequence[TuneTrial]) -> str:
        """Why the surrogate chose this config, in words (the proposal's reasoning)."""
        c, s = self.context, self.surrogate
        p = cand.prediction
        ok = sum(t.result.ok for t in trials)
        crashed = len(trials) - ok
        refit = (f"the meta-learner refitted with {ok} finished trial(s)"
                 + (f" and {crashed} crashed one(s)" if crashed else "")
                 + f" of this dataset (each weighted x{s.trial_weight:g} against "
                 f"{s.base_rows} past runs)") if trials else "the meta-learner"
        ranks = ("ranks this config among its best untried ones, and of those it adds most to the best predicted "
                 "percentile over the past datasets whose surfaces order this dataset's trials best"
                 if cand.covering else "ranks this config first among the untried ones")
        text = (f"Surrogate choice: {refit} {ranks} "
                f"({describe_policy(c.policy)}): predicted percentile {p.score:.0%} (80% interval "
                f"{p.low:.0%}-{p.high:.0%}), {c.metric} ~ {p.raw_metric:.3f}, training ~{p.train_time_s:.0f} s.")
        best = best_trial(trials, c.goal)
        if best is not None:
            diff = [f"{k} {short(best.result.config.get(k))} -> {short(v)}" for k, v in cand.config.items()
                    if config_key({k: best.result.config.get(k)}) != config_key({k: v})]
            text += (f" Best so far: trial {best.number} ({c.metric} {best.result.metric:.4f}); this config "
                     f"changes {', '.join(diff) or 'nothing'}.")
        return text

