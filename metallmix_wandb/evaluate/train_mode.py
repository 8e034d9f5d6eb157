"""Train mode of `evaluate`: every chosen config is trained on the hidden dataset (through the Launch
contract) and compared with that dataset's known runs; random search and BO run as W&B sweeps
(`random`, `bayes`) with the same budget and seeds. Same methods and records as lookup mode.

Tested in tests/evaluate/test_train_mode.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from metallmix_wandb.evaluate.lookup import config_key
from metallmix_wandb.evaluate.records import Family, MethodResult, reference_score
from metallmix_wandb.evaluate.scoring import SearchFn
from metallmix_wandb.numbers import finite_or_none
from metallmix_wandb.space.search_space import SearchSpace

if TYPE_CHECKING:
    from metallmix_wandb.evaluate.launch_trainer import LaunchTrainer, TrainOutcome


class TrainScorer:
    """Trains a method's choice (once per distinct config) and scores it against the known runs (a `Scorer`)."""

    def __init__(self, trainer: LaunchTrainer, dataset: str, name: str, reference: Sequence[Any]) -> None:
        self.trainer, self.dataset, self.name = trainer, dataset, name
        self.reference = [x for v in reference if (x := finite_or_none(v)) is not None]
        self._trained: dict[tuple[str, ...], TrainOutcome] = {}

    def _train(self, config: dict[str, Any], tag: str) -> TrainOutcome:
        key = config_key(config, sorted(config))
        if key not in self._trained:
            self._trained[key] = self.trainer.train(self.dataset, config, tag)
        return self._trained[key]

    def _record(self, method: str, family: Family, config: dict[str, Any] | None, outcome: TrainOutcome | None,
                **extra: Any) -> MethodResult:
        value = outcome.metric if outcome is not None and outcome.ok else None
        score = reference_score(self.reference, value, outcome.train_time_s if outcome else None)
        if outcome is not None and not outcome.ok:
            extra = {**extra, "ok": False, "error": outcome.error}
        return MethodResult.scored(score, dataset=self.dataset, dataset_name=self.name, method=method,
                                   family=family, config=config, **extra)

    def result(self, method: str, family: Family, config: dict[str, Any] | None, **extra: Any) -> MethodResult:
        outcome = self._train(config, f"{self.name}-{method}") if config is not None else None
        return self._record(method, family, config, outcome, **extra)

    def search(self, method: str, search: SearchFn, space: SearchSpace, budget: int, seed: int) -> MethodResult:
        """`budget` trials of a W&B sweep whose method is the search's name (the local `search` is not used:
        W&B's own engine proposes the trials, as `metallmix-wandb sweep --offline` runs them)."""
        sweep = self.trainer.sweep(self.dataset, method, budget, seed, f"{self.name}-{method}-{seed}")
        done = [t for t in sweep.trials if t.ok and t.metric is not None]
        best = max(done, key=lambda t: t.metric or -math.inf) if done else None
        cost = sum(t.train_time_s or 0.0 for t in sweep.trials)
        return self._record(method, "search", best.config if best else None, best, seed=seed,
                            evaluations=len(sweep.trials), search_train_s=cost,
                            compute_s=max(0.0, sweep.seconds - cost),
                            **({} if best else {"ok": False, "error": "no trial finished"}))
