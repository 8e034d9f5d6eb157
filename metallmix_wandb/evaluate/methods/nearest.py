"""`nearest`: the best run (inside the space) of the dataset nearest to the hidden one in the knowledge
base, by meta-features. Tested through tests/evaluate/test_pipeline.py."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from metallmix_wandb.evaluate.methods.base import FoldContext, in_space
from metallmix_wandb.evaluate.records import Family, MethodResult
from metallmix_wandb.evaluate.request import EvalProtocol
from metallmix_wandb.knowledge.records import Experiment
from metallmix_wandb.numbers import is_finite
from metallmix_wandb.space.search_space import SearchSpace


def best_config_of(experiments: Sequence[Experiment], space: SearchSpace, metric: str) -> dict[str, Any] | None:
    """The best run's config (inside the space) among these runs (the later run path of equal metrics)."""
    scored = [(e.summary[metric], e.run_path, c) for e in experiments
              if is_finite(e.summary.get(metric)) and (c := in_space(space, e.config)) is not None]
    return max(scored, key=lambda t: (t[0], t[1]))[2] if scored else None


class Nearest:
    name = "nearest"
    family: Family = "meta"
    protocols: tuple[EvalProtocol, ...] = ("recommend",)
    switch = name
    per_model = False
    needs_fold = True

    def run(self, ctx: FoldContext) -> list[MethodResult]:
        t0 = time.perf_counter()
        hits = ctx.store.search(dict(ctx.meta), k=1, exclude_datasets=[ctx.dataset])
        nearest = ctx.others[hits[0].experiment.dataset] if hits else []
        config = best_config_of(nearest, ctx.space, ctx.request.metric) if hits else None
        return [ctx.scorer.result(self.name, self.family, config, compute_s=time.perf_counter() - t0,
                                  ok=config is not None, source=hits[0].experiment.dataset_name if hits else None,
                                  error=None if config else "no neighbour with a config inside the space")]


NEAREST = Nearest()
