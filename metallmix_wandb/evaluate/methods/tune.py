"""`tune` (`--method tune` only): `tune_lookup` without an LLM, once per seed: trial 1 is the fold's
meta-learner's best config, each next trial the surrogate refitted with the trials so far.
Tested through tests/evaluate/test_tune_mode.py."""

from __future__ import annotations

import time

from metallmix_wandb.evaluate.methods.base import FoldContext
from metallmix_wandb.evaluate.methods.tuned import tune_result
from metallmix_wandb.evaluate.records import Family, MethodResult
from metallmix_wandb.evaluate.request import EvalProtocol
from metallmix_wandb.tune.agent import tune_lookup


class Tune:
    name = "tune"
    family: Family = "meta"
    protocols: tuple[EvalProtocol, ...] = ("tune",)
    switch = name
    per_model = False
    needs_fold = True

    def run(self, ctx: FoldContext) -> list[MethodResult]:
        scorer, req, others = ctx.trials(), ctx.request, ctx.other_experiments
        out = []
        for seed in req.seeds:
            t0 = time.perf_counter()
            outcome = tune_lookup(scorer.lookup, ctx.meta, ctx.space, ctx.knowledge().learner(), others,
                                  budget=req.budget, metric=req.metric, seed=seed)
            out.append(tune_result(scorer, self.name, self.family, outcome, time.perf_counter() - t0, seed,
                                   source="surrogate"))
        return out


TUNE = Tune()
