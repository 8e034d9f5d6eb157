"""`random`: `budget` configs drawn from the space's W&B distributions, the best kept, once per seed (in
train mode a W&B `random` sweep). Tested in tests/evaluate/test_records.py and test_pipeline.py."""

from __future__ import annotations

import numpy as np

from metallmix_wandb.evaluate.methods.base import FoldContext
from metallmix_wandb.evaluate.records import Family, MethodResult
from metallmix_wandb.evaluate.request import EvalProtocol
from metallmix_wandb.evaluate.scoring import Objective, SearchTrace, trace_of
from metallmix_wandb.space.search_space import SearchSpace


def random_search(space: SearchSpace, objective: Objective, budget: int, seed: int) -> SearchTrace:
    """`budget` configs drawn from the space's W&B distributions (a seeded Generator), best kept."""
    configs = space.sample(np.random.default_rng(seed), budget)
    return trace_of(configs, [objective(c) for c in configs])


class RandomSearch:
    name = "random"
    family: Family = "search"
    protocols: tuple[EvalProtocol, ...] = ("recommend", "tune")
    switch = name
    per_model = False
    needs_fold = False

    def run(self, ctx: FoldContext) -> list[MethodResult]:
        req = ctx.request
        return [ctx.scorer.search(self.name, random_search, ctx.space, req.budget, seed) for seed in req.seeds]


RANDOM_SEARCH = RandomSearch()
