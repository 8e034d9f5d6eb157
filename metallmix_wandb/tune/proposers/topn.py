"""The never-refitted way to choose the next trial: the stored meta-learner's portfolio for the budget
(`MetaLearner.recommend_n`, proposers/portfolio.py: what `recommend --no-llm --candidates N` returns),
then its best untried config, trial after trial. The ablation that shows what the surrogate's refit
adds (evaluate's `meta-learner-topn`). Tested in tests/tune/proposers/test_registry.py and
tests/tune/proposers/test_portfolio.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from metallmix_wandb.tune.proposers.base import ProposerContext
from metallmix_wandb.tune.proposers.portfolio import Portfolio
from metallmix_wandb.tune.records import Proposal, TuneTrial, config_key
from metallmix_wandb.tune.surrogate import best_untried


class MetaLearnerTopN:
    """The stored meta-learner's portfolio of `budget` configs, then its next best, never refitted."""

    def __init__(self, context: ProposerContext) -> None:
        self.context = context
        self.portfolio = Portfolio(context, context.budget or context.portfolio)

    def __call__(self, trials: Sequence[TuneTrial]) -> Proposal | None:
        c = self.context
        if self.portfolio.n > 1:
            proposal = self.portfolio.next(trials)
            if proposal is not None:
                return proposal
        tried = {config_key(t.result.config) for t in trials}
        best, _ = best_untried(c.learner, c.meta, c.space, tried, c.policy, seed=c.seed + len(trials),
                               configs=c.configs)
        return None if best is None else Proposal(config=best.config, source="meta-learner")
