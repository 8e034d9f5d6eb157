"""Lookup mode of `evaluate`: every choice is scored by the table (evaluate/lookup.py) exactly, a search
evaluates its configs against the table, and a tune trial is the table's row for its config.

Tested through tests/evaluate/test_pipeline.py and tests/evaluate/test_tune_mode.py.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from metallmix_wandb.evaluate.lookup import LookupTable
from metallmix_wandb.evaluate.records import Family, MethodResult, best_so_far_curve
from metallmix_wandb.evaluate.scoring import SearchFn
from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.tune.records import TrialResult


class LookupScorer:
    """Turns a method's choice into a MethodResult, by the table (a `TrialScorer`)."""

    def __init__(self, table: LookupTable, dataset: str, name: str) -> None:
        self.table, self.dataset, self.name = table, dataset, name

    def objective(self, config: dict[str, Any]) -> float:
        v = self.table.value(self.dataset, config)
        return v if v is not None else -math.inf

    def trials_cost(self, configs: Sequence[dict[str, Any]]) -> float:
        return sum(t for c in configs if (t := self.table.time(self.dataset, c)) is not None)

    def curve(self, configs: Sequence[dict[str, Any] | None]) -> list[float]:
        """Best-so-far percentile after each trial (a config the table lacks scores as the worst)."""
        return best_so_far_curve([self.table.score(self.dataset, c).percentile for c in configs])

    def lookup(self, config: dict[str, Any]) -> TrialResult:
        """A tune trial in lookup mode: the table's row for this config."""
        value = self.table.value(self.dataset, config)
        if value is None:
            return TrialResult(config=config, status="crashed", error="the table has no result for this config")
        return TrialResult(config=config, metric=value, train_time_s=self.table.time(self.dataset, config))

    def search(self, method: str, search: SearchFn, space: SearchSpace, budget: int, seed: int) -> MethodResult:
        """The search against the table: its best config, and what its trials would have cost."""
        t0 = time.perf_counter()
        trace = search(space, self.objective, budget, seed)
        return self.result(method, "search", trace.best_config, seed=seed, compute_s=time.perf_counter() - t0,
                           evaluations=len(trace.configs), search_train_s=self.trials_cost(trace.configs),
                           curve=self.curve(trace.configs))

    def result(self, method: str, family: Family, config: dict[str, Any] | None, **extra: Any) -> MethodResult:
        score = self.table.score(self.dataset, config)
        return MethodResult.scored(score, dataset=self.dataset, dataset_name=self.name, method=method,
                                   family=family, config=config, **extra)
