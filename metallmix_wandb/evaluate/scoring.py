"""How a method's choice becomes a scored `MethodResult`: the `Scorer` protocol both modes implement
(lookup mode: `LookupScorer`, every config's result is in a table; train mode: `TrainScorer`, every
choice is trained), and what a budgeted search hands a scorer. Pure.

Methods (evaluate/methods/) only talk to a scorer, so one method runs unchanged in either mode; the
tune protocol's methods need a `TrialScorer` (a trial is a table lookup). Tested through
tests/evaluate/test_records.py (searches), tests/evaluate/test_pipeline.py and test_train_mode.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel

from metallmix_wandb.evaluate.records import Family, MethodResult
from metallmix_wandb.space.search_space import SearchSpace

if TYPE_CHECKING:
    from metallmix_wandb.tune.records import TrialResult

Objective = Callable[[dict[str, Any]], float]
"""A config's metric (higher is better); in lookup mode, a table lookup."""


class SearchTrace(BaseModel):
    """What a budgeted search evaluated, in order, and the best it found (first of ties)."""

    configs: list[dict[str, Any]]
    values: list[float]
    best_index: int

    @property
    def best_config(self) -> dict[str, Any]:
        return self.configs[self.best_index]


def trace_of(configs: Sequence[dict[str, Any]], values: Sequence[float]) -> SearchTrace:
    """The trace of these evaluations; a non-finite value counts as the worst (-inf)."""
    vals = [float(v) if math.isfinite(v) else -math.inf for v in values]
    best = max(range(len(vals)), key=vals.__getitem__)  # the first of equal maxima, as numpy's argmax
    return SearchTrace(configs=list(configs), values=vals, best_index=best)


class SearchFn(Protocol):
    """A budgeted search run locally against an objective (random search, BO), reproducible under `seed`."""

    def __call__(self, space: SearchSpace, objective: Objective, budget: int, seed: int) -> SearchTrace: ...


class Scorer(Protocol):
    """Turns a method's answer for one hidden dataset into a scored MethodResult."""

    dataset: str
    name: str

    def result(self, method: str, family: Family, config: dict[str, Any] | None, **extra: Any) -> MethodResult:
        """The result of choosing `config` (None: no answer, scored as the worst); `extra` are further
        MethodResult fields (seed, compute_s, source...)."""
        ...

    def search(self, method: str, search: SearchFn, space: SearchSpace, budget: int, seed: int) -> MethodResult:
        """A budgeted search's best config: `search` against the table in lookup mode; in train mode a W&B
        sweep whose `method` is the search's name (random, bayes), each trial trained."""
        ...


@runtime_checkable
class TrialScorer(Scorer, Protocol):
    """A scorer that answers single trials at once (lookup mode): what the tune protocol needs."""

    def lookup(self, config: dict[str, Any]) -> TrialResult:
        """A tune trial: the config's result on the hidden dataset."""
        ...

    def trials_cost(self, configs: Sequence[dict[str, Any]]) -> float:
        """The training time these trials would have cost."""
        ...

    def curve(self, configs: Sequence[dict[str, Any] | None]) -> list[float]:
        """Best-so-far percentile after each trial."""
        ...
