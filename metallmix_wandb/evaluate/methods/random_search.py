"""`random`: `budget` configs drawn from the space's W&B distributions, the best kept, once per seed (in
train mode a W&B `random` sweep). Tested in tests/evaluate/test_records.py and test_pipeline.py."""

from __future__ import annotations

import numpy as np

from metallmix_wandb.evaluate.methods.base import SearchMethod
from metallmix_wandb.evaluate.scoring import Objective, SearchTrace, trace_of
from metallmix_wandb.space.search_space import SearchSpace


def random_search(space: SearchSpace, objective: Objective, budget: int, seed: int) -> SearchTrace:
    """`budget` configs drawn from the space's W&B distributions (a seeded Generator), best kept."""
    configs = space.sample(np.random.default_rng(seed), budget)
    return trace_of(configs, [objective(c) for c in configs])


RANDOM_SEARCH = SearchMethod("random", random_search)
