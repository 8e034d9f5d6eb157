"""`meta-learner-topn` (`--method tune`, switched on by `--baselines meta-learner`): the same few-trial
search over the fold's meta-learner as `tune`, never refitted: the ablation that shows what the refit
adds. Trial 1 is the meta-learner's best config, each next trial its best untried one.
Tested through tests/evaluate/test_tune_mode.py."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from metallmix_wandb.evaluate.methods.base import FoldContext
from metallmix_wandb.evaluate.methods.tuned import tune_result
from metallmix_wandb.evaluate.records import Family, MethodResult
from metallmix_wandb.evaluate.request import EvalProtocol
from metallmix_wandb.evaluate.scoring import TrialScorer
from metallmix_wandb.knowledge.records import MetaValue
from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.tune.agent import first_from_meta_learner
from metallmix_wandb.tune.loop import run_tune_loop
from metallmix_wandb.tune.objective import TimePolicy
from metallmix_wandb.tune.proposers import ProposerContext, make_proposer
from metallmix_wandb.tune.records import TuneOutcome

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.meta_learner.model import MetaLearner


def top_n(scorer: TrialScorer, space: SearchSpace, learner: MetaLearner, meta: Mapping[str, MetaValue],
          budget: int, seed: int) -> TuneOutcome:
    """The stored meta-learner's best untried config, trial after trial, never refitted (tune's
    `meta-learner-topn` proposer: its portfolio for the budget first)."""
    context = ProposerContext(learner=learner, meta=meta, space=space, policy=TimePolicy(), seed=seed, budget=budget)
    first = first_from_meta_learner(learner, meta, space, seed=seed)
    return run_tune_loop(scorer.lookup, make_proposer("meta-learner-topn", context), space, budget=budget,
                         first=first)


class MetaLearnerTopN:
    name = "meta-learner-topn"
    family: Family = "meta"
    protocols: tuple[EvalProtocol, ...] = ("tune",)
    switch = "meta-learner"
    per_model = False
    needs_fold = True

    def run(self, ctx: FoldContext) -> list[MethodResult]:
        scorer, req = ctx.trials(), ctx.request
        out = []
        for seed in req.seeds:
            t0 = time.perf_counter()
            outcome = top_n(scorer, ctx.space, ctx.knowledge().learner(), ctx.meta, req.budget, seed)
            out.append(tune_result(scorer, self.name, self.family, outcome, time.perf_counter() - t0, seed,
                                   source="meta-learner"))
        return out


TOPN = MetaLearnerTopN()
