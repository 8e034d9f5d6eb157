"""The configs with evidence: what the runs actually tried, for a one-shot choice among them (the
`pool: logged` setting, variants.py) instead of the argmax over the whole space, where the trees
extrapolate into regions no run visited. Pure (numpy only).

Each distinct config (over the model's parameters) keeps its observed percentile, averaged within a
dataset and then over the datasets it was logged on: the evidence a `evidence` weight blends with the
model's prediction for the new dataset. Tested in tests/knowledge/meta_learner/test_pool.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from metallmix_wandb.knowledge.meta_learner.features import TrainingTable
from metallmix_wandb.knowledge.records import Experiment


class LoggedPool(BaseModel):
    """The distinct logged configs (flat, the model's parameters only) and their observed mean percentile."""

    configs: list[dict[str, Any]] = Field(default_factory=list)
    observed: list[float] = Field(default_factory=list, description="mean over datasets of the within-dataset "
                                  "percentile (1 = that dataset's best run)")


def config_key(config: Mapping[str, Any]) -> str:
    return json.dumps(dict(config), sort_keys=True, default=str)


def logged_pool(configs: Sequence[Mapping[str, Any]], datasets: Sequence[str], score: np.ndarray) -> LoggedPool:
    """One entry per distinct config, first seen first; `score` is each run's within-dataset percentile."""
    per: dict[str, dict[str, list[float]]] = {}
    first: dict[str, dict[str, Any]] = {}
    for config, dataset, s in zip(configs, datasets, score, strict=True):
        key = config_key(config)
        first.setdefault(key, dict(config))
        per.setdefault(key, {}).setdefault(dataset, []).append(float(s))
    observed = [float(np.mean([np.mean(v) for v in per[k].values()])) for k in first]
    return LoggedPool(configs=list(first.values()), observed=observed)


def blend(predicted: np.ndarray, observed: np.ndarray, evidence: float) -> np.ndarray:
    """(1 - evidence) * the model's prediction for the new dataset + evidence * the observed mean; also the
    boosters' order blended with the Gaussian process's (boosters.lodo: `evidence` = the GP's weight)."""
    return (1.0 - evidence) * np.asarray(predicted, dtype=np.float64) + evidence * np.asarray(observed, np.float64)


def table_pool(experiments: Sequence[Experiment], table: TrainingTable) -> LoggedPool:
    """The pool of the runs a model was fitted on (`table`'s rows, the model's parameters only)."""
    by_path = {e.run_path: e for e in experiments}
    flat = [table.space.flatten(by_path[r].config) for r in table.run_paths]
    configs = [{p: f[p] for p in table.layout.params if p in f} for f in flat]
    return logged_pool(configs, [table.datasets[g] for g in table.groups], table.score)
