"""What the tune protocol's methods share: a finished few-trial tune as a MethodResult (the best config
after the budget, what its trials cost, the best-so-far percentile after every trial). Tested through
tests/evaluate/test_tune_mode.py."""

from __future__ import annotations

from typing import Any

from metallmix_wandb.evaluate.records import Family, MethodResult
from metallmix_wandb.evaluate.scoring import TrialScorer
from metallmix_wandb.tune.records import TuneOutcome


def tune_result(scorer: TrialScorer, method: str, family: Family, outcome: TuneOutcome, seconds: float, seed: int,
                **extra: Any) -> MethodResult:
    """The tune's best trial, scored; a tune with no finished trial scores as the worst."""
    best = outcome.best_trial
    configs = [t.result.config for t in outcome.trials]
    return scorer.result(method, family, best.result.config if best else None, seed=seed, compute_s=seconds,
                         evaluations=len(configs), search_train_s=scorer.trials_cost(configs),
                         curve=scorer.curve(configs), ok=best is not None,
                         error=None if best else "no finished trial", **extra)
