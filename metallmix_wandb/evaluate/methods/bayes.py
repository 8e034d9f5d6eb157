"""`bayes`: Bayesian optimisation over a SearchSpace with scikit-optimize's `gp_minimize` (as the paper),
once per seed (in train mode a W&B `bayes` sweep).

Dimensions: string/bool/mixed `values` -> `Categorical`; numeric `values` -> an `Integer` index into
the sorted values (keeps their order, so a GP can model "larger batch size"); int ranges ->
`Integer`; float ranges -> `Real` (log-uniform prior for log distributions). Constants are fixed.
Seeded with `random_state`, so a run is reproducible; a config evaluated twice counts twice
against the budget (the paper's budget is in evaluations). Tested in tests/evaluate/methods/test_bayes.py.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from metallmix_wandb.evaluate.methods.base import SearchMethod
from metallmix_wandb.evaluate.scoring import Objective, SearchTrace, trace_of
from metallmix_wandb.space.search_space import SearchSpace

_BIG = 1e9  # what the minimiser sees for a config with no finite result


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _dimensions(space: SearchSpace) -> list[tuple[str, Any, Any]]:
    """(name, skopt dimension, decode(x) -> value) per tunable parameter."""
    from skopt.space import Categorical, Integer, Real

    dims: list[tuple[str, Any, Any]] = []
    for name, spec in space.tunable.items():
        if spec.kind == "categorical":
            values = list(spec.values or [])
            if all(_is_number(v) for v in values):
                ordered = sorted(values)
                dims.append((name, Integer(0, len(ordered) - 1, name=name), lambda i, o=ordered: o[int(i)]))
            else:
                labels = [str(i) for i in range(len(values))]
                dims.append((name, Categorical(labels, name=name), lambda s, v=values: v[int(s)]))
        elif spec.kind == "int":
            lo, hi = math.ceil(spec.min or 0), math.floor(spec.max or 0)
            prior = "log-uniform" if spec.log and lo > 0 else "uniform"
            dims.append((name, Integer(lo, hi, prior=prior, name=name), int))
        else:
            lo, hi = float(spec.min or 0.0), float(spec.max or 0.0)
            prior = "log-uniform" if spec.log and lo > 0 else "uniform"
            dims.append((name, Real(lo, hi, prior=prior, name=name), float))
    return dims


def bayes_search(space: SearchSpace, objective: Objective, budget: int, seed: int,
                 n_initial_points: int | None = None) -> SearchTrace:
    """Maximise `objective` with `budget` evaluations of gp_minimize (on its negation); each
    suggestion is snapped into the space (q-steps, bounds) before it is evaluated."""
    from skopt import gp_minimize

    dims = _dimensions(space)
    if not dims:
        config = space.snap({}).config
        return trace_of([config], [objective(config)])
    configs: list[dict[str, Any]] = []
    values: list[float] = []

    def loss(x: list[Any]) -> float:
        raw = {name: decode(v) for (name, _, decode), v in zip(dims, x, strict=True)}
        config = space.snap({**space.constants, **raw}).config
        value = objective(config)
        configs.append(config)
        values.append(value)
        return -value if math.isfinite(value) else _BIG

    initial = n_initial_points if n_initial_points is not None else min(10, max(1, budget // 2))
    with warnings.catch_warnings():  # "evaluated at point before": expected on small discrete grids
        warnings.simplefilter("ignore")
        gp_minimize(loss, [d for _, d, _ in dims], n_calls=budget, n_initial_points=min(initial, budget),
                    random_state=seed, acq_optimizer="sampling", n_points=2000)
    return trace_of(configs, values)


BAYES = SearchMethod("bayes", bayes_search)
