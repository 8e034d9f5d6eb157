"""The meta-learner's portfolio of N configs (`MetaLearner.recommend_n`): for a budget of N evaluations,
configs chosen together to cover the best predicted configs of the past datasets most like the new
one (greedy, diverse), instead of the N best by the new dataset's prediction alone, which tend to be
near-copies of one another. Its first config is the meta-learner's best (recommend's answer).

`Portfolio` is a list that proposers draw from: tune's first `ProposerContext.portfolio` trials
(`PortfolioFirst`, which then hands over to the refitting proposer) and the never-refitted
`meta-learner-topn` (proposers/topn.py). Only configs untried, inside the table (a fixed pool) and,
with `--max-train-time`, predicted inside the cap are proposed. Tested in
tests/tune/proposers/test_portfolio.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from metallmix_wandb.recommend.record import ScoredConfig
from metallmix_wandb.tune.proposers.base import Proposer, ProposerContext
from metallmix_wandb.tune.records import Proposal, TuneTrial, config_key

SEED_TRIALS = 1
"""Tune's trials from the portfolio without an LLM (recommend's answer, its first, included). 1: the
refitted surrogate from trial 2. Measured (README, Evaluating tune): 3 portfolio trials lost to the
surrogate's trials 2-3 on HPOBench and HPOLib (median best-of-3 percentile 0.947 / 0.967 against
0.963 / 0.975)."""


class Portfolio:
    """The context's meta-learner's `n` configs for the new dataset, computed once, in order."""

    def __init__(self, context: ProposerContext, n: int) -> None:
        self.context, self.n = context, n
        self._scored: list[ScoredConfig] | None = None

    def scored(self) -> list[ScoredConfig]:
        if self._scored is None:
            c = self.context
            configs = c.learner.recommend_n(c.meta, c.space, n=self.n, seed=c.seed)
            self._scored = [ScoredConfig(config=cfg, **p.model_dump())
                            for cfg, p in zip(configs, c.learner.predict(c.meta, configs), strict=True)]
        return self._scored

    def next(self, trials: Sequence[TuneTrial]) -> Proposal | None:
        """The first portfolio config not tried yet that the table holds and the time cap allows."""
        c = self.context
        tried = {config_key(t.result.config) for t in trials}
        cap = c.policy.max_train_time_s
        scored = self.scored()
        for i, s in enumerate(scored, 1):
            key = config_key(s.config)
            if key in tried or (c.allowed is not None and key not in c.allowed):
                continue
            if cap is not None and s.train_time_s > cap:
                continue
            return Proposal(config=dict(s.config), source="meta-learner-portfolio", predicted=s,
                            reasoning=_reasoning(i, len(scored), s, c.metric))
        return None


def _reasoning(i: int, n: int, s: ScoredConfig, metric: str) -> str:
    return (f"Config {i} of the meta-learner's portfolio of {n} (configs chosen together to cover the best "
            f"predicted configs of the most similar past datasets): predicted percentile {s.score:.0%} "
            f"(80% interval {s.low:.0%}-{s.high:.0%}), {metric} ~ {s.raw_metric:.3f}, training "
            f"~{s.train_time_s:.0f} s.")


class PortfolioFirst:
    """Tune's first `context.portfolio` trials from the portfolio, then `inner` (the refitting proposer)."""

    def __init__(self, context: ProposerContext, inner: Proposer) -> None:
        self.context, self.inner = context, inner
        self.portfolio = Portfolio(context, context.portfolio)

    @property
    def timings(self) -> list[dict[str, float]]:
        timings: list[dict[str, float]] = getattr(self.inner, "timings", [])
        return timings

    def __call__(self, trials: Sequence[TuneTrial]) -> Proposal | None:
        if len(trials) < self.context.portfolio:
            proposal = self.portfolio.next(trials)
            if proposal is not None:
                return proposal
        return self.inner(trials)


def portfolio_first(context: ProposerContext, inner: Proposer) -> Proposer:
    """`inner` alone when the context seeds no more than trial 1 from the meta-learner, or when the
    objective trades accuracy for time (the portfolio covers accuracy only; the surrogate weighs both)."""
    return PortfolioFirst(context, inner) if context.portfolio > 1 and context.policy.objective == "accuracy" else inner
