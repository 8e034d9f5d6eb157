"""`global-best`: the config with the best mean within-dataset percentile across the other datasets
(LLM-Cash's `mean` baseline). Tested in tests/evaluate/test_records.py and test_pipeline.py."""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from metallmix_wandb.evaluate.lookup import config_key
from metallmix_wandb.evaluate.methods.base import FoldContext, in_space
from metallmix_wandb.evaluate.records import Family, MethodResult
from metallmix_wandb.evaluate.request import EvalProtocol
from metallmix_wandb.knowledge.meta_learner.features import percentile_rank
from metallmix_wandb.knowledge.records import Experiment
from metallmix_wandb.numbers import is_finite
from metallmix_wandb.space.search_space import SearchSpace


def _by_dataset(experiments: Sequence[Experiment]) -> dict[str, list[Experiment]]:
    out: dict[str, list[Experiment]] = defaultdict(list)
    for e in sorted(experiments, key=lambda e: e.run_path):
        out[e.dataset].append(e)
    return dict(out)


def global_best_config(experiments: Sequence[Experiment], space: SearchSpace, metric: str) -> dict[str, Any] | None:
    """The config with the best mean within-dataset percentile across the datasets it was run on. Only
    configs run on the most datasets compete, so a config tried once on an easy dataset cannot win on
    one lucky number."""
    names = list(space.tunable)
    per_config: dict[tuple[str, ...], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    configs: dict[tuple[str, ...], dict[str, Any]] = {}
    for dataset, exps in _by_dataset(experiments).items():
        usable = [(e, c) for e in exps if is_finite(e.summary.get(metric)) and (c := in_space(space, e.config))]
        if not usable:
            continue
        pct = percentile_rank(np.array([e.summary[metric] for e, _ in usable], dtype=np.float64))
        for (_, c), p in zip(usable, pct, strict=True):
            key = config_key(c, names)
            configs.setdefault(key, c)
            per_config[key][dataset].append(float(p))
    if not per_config:
        return None
    coverage = max(len(d) for d in per_config.values())

    def mean_pct(key: tuple[str, ...]) -> float:
        return statistics.fmean(statistics.fmean(v) for v in per_config[key].values())

    best = max((k for k, d in per_config.items() if len(d) == coverage), key=lambda k: (mean_pct(k), k))
    return configs[best]


class GlobalBest:
    name = "global-best"
    family: Family = "meta"
    protocols: tuple[EvalProtocol, ...] = ("recommend",)
    switch = name
    per_model = False
    needs_fold = True

    def run(self, ctx: FoldContext) -> list[MethodResult]:
        t0 = time.perf_counter()
        config = global_best_config(ctx.other_experiments, ctx.space, ctx.request.metric)
        return [ctx.scorer.result(self.name, self.family, config, compute_s=time.perf_counter() - t0,
                                  ok=config is not None, error=None if config else "no config inside the space")]


GLOBAL_BEST = GlobalBest()
