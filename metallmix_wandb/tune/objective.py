"""Accuracy against time: how `tune` turns the surrogate's predictions into one number per candidate.

- `--objective accuracy`: the utility is the predicted percentile within the dataset.
- `--objective time`: the percentile minus `time_weight` x the candidate's predicted training time on
  a 0-1 log scale spanning the candidate pool (fastest 0, slowest 1). Scale-free like the percentile,
  so 0.5 means "the slowest config must rank half the dataset's configs higher to be worth it".
- `--max-train-time S`: candidates predicted to train longer than S are dropped; when that drops all
  of them, the fastest one is kept and the caller warns.
Pure (numpy only).
Tested in tests/tune/test_digest.py.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, Field

from metallmix_wandb.tune.records import Objective

TIME_WEIGHT = 0.5


class TimePolicy(BaseModel):
    objective: Objective = "accuracy"
    max_train_time_s: float | None = Field(None, gt=0)
    time_weight: float = Field(TIME_WEIGHT, ge=0)
    goal: str = "maximize"


class TimeScale(BaseModel):
    """log1p(seconds) of the fastest and slowest candidate in the pool."""

    low: float = 0.0
    high: float = 0.0

    @classmethod
    def of(cls, seconds: np.ndarray) -> TimeScale:
        logs = np.log1p(np.clip(np.asarray(seconds, dtype=np.float64), 0.0, None))
        logs = logs[np.isfinite(logs)]
        return cls(low=float(logs.min()), high=float(logs.max())) if logs.size else cls()

    def normalise(self, seconds: np.ndarray) -> np.ndarray:
        logs = np.log1p(np.clip(np.asarray(seconds, dtype=np.float64), 0.0, None))
        if self.high - self.low <= 0:
            return np.zeros_like(logs)
        return np.clip((logs - self.low) / (self.high - self.low), 0.0, 1.0)


def utility(score: np.ndarray, seconds: np.ndarray, policy: TimePolicy, scale: TimeScale) -> np.ndarray:
    """Higher is better. The meta-learner's score is a percentile where higher is the higher metric,
    so a minimised metric flips its sign."""
    u = np.asarray(score, dtype=np.float64) * (1.0 if policy.goal == "maximize" else -1.0)
    if policy.objective == "time":
        u = u - policy.time_weight * scale.normalise(seconds)
    return u


def allowed(seconds: np.ndarray, policy: TimePolicy) -> np.ndarray:
    """Mask of candidates inside `max_train_time_s` (all, without a cap)."""
    seconds = np.asarray(seconds, dtype=np.float64)
    if policy.max_train_time_s is None:
        return np.ones(len(seconds), dtype=bool)
    return ~(seconds > policy.max_train_time_s)


def describe_policy(policy: TimePolicy) -> str:
    parts = [f"objective {policy.objective}"]
    if policy.objective == "time":
        parts.append(f"time weight {policy.time_weight:g}")
    if policy.max_train_time_s is not None and math.isfinite(policy.max_train_time_s):
        parts.append(f"max train time {policy.max_train_time_s:g} s")
    return ", ".join(parts)
