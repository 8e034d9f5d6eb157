"""Candidate configs for the meta-learner's argmax over a search space. Pure (numpy only).

DESIGN.md §4: the whole grid when the space is discrete and small enough to score in well under a
second, else a large seeded random sample refined around the best points. Candidates are handed
to the model as, per parameter, (distinct values, index per candidate), which the feature layout
encodes without a Python loop per config.
Tested in tests/space/test_argmax.py (the search that uses it) and tests/knowledge/meta_learner/test_features.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.space.values import (
    count,
    discrete_values,
    repair_number,
    same_value,
    sample_value,
)

Choices = dict[str, tuple[list[Any], np.ndarray]]


def grid_choices(space: SearchSpace, params: Sequence[str], max_grid: int) -> tuple[Choices, int] | None:
    """Every combination of `params` when all are discrete and there are at most `max_grid`."""
    axes: dict[str, Any] = {}
    total = 1
    for name in params:
        values = discrete_values(space.params[name])
        if values is None:
            return None
        total *= count(values)
        if total > max_grid:
            return None
        axes[name] = values
    if not axes:
        return {}, 1
    sizes = [count(v) for v in axes.values()]
    index = np.unravel_index(np.arange(total), sizes)
    choices = {name: ([v[i] for i in range(count(v))], idx)
               for (name, v), idx in zip(axes.items(), index, strict=True)}
    return choices, total


def pick(choices: Choices, i: int) -> dict[str, Any]:
    """Candidate i as a flat config."""
    return {name: values[int(idx[i])] for name, (values, idx) in choices.items()}


def sample_choices(space: SearchSpace, params: Sequence[str], n: int, rng: np.random.Generator) -> Choices:
    """n random configs from the W&B distributions of `params`, drawn a parameter at a time."""
    out: Choices = {}
    for name in params:
        spec = space.params[name]
        if spec.kind in ("categorical", "constant"):
            values = list(spec.values or [])
            out[name] = (values, rng.choice(len(values), size=n, p=spec.probabilities))
        else:
            out[name] = (_draw(spec, n, rng), np.arange(n))
    return out


def _draw(spec: Any, n: int, rng: np.random.Generator) -> list[Any]:
    lo, hi, d = spec.min, spec.max, spec.distribution
    if lo is None or hi is None or d.startswith(("q_", "normal", "log_normal", "beta")):
        return [sample_value(spec, rng) for _ in range(n)]
    if spec.log:
        x = np.exp(rng.uniform(math.log(lo), math.log(hi), size=n))
    elif d == "int_uniform":
        x = rng.integers(math.ceil(lo), math.floor(hi) + 1, size=n).astype(np.float64)
    else:
        x = rng.uniform(lo, hi, size=n)
    return _repair(spec, x)


def _repair(spec: Any, x: np.ndarray) -> list[Any]:
    """Snap values onto the space: vectorised for plain ranges, one by one where q applies."""
    if spec.q or spec.min is None or spec.max is None:
        return [repair_number(spec, float(v)) for v in x]
    if spec.kind == "int":
        return np.clip(np.rint(x), math.ceil(spec.min), math.floor(spec.max)).astype(np.int64).tolist()
    return np.clip(x, spec.min, spec.max).tolist()


def perturb(space: SearchSpace, seeds: Sequence[Mapping[str, Any]], params: Sequence[str], per_seed: int,
            rng: np.random.Generator, scale: float, switch: float = 0.25) -> tuple[Choices, int]:
    """`per_seed` neighbours of each seed config: numeric parameters moved by N(0, scale x range)
    (in log space for log distributions) and snapped onto the space; categorical ones switched to a
    random value with probability `switch`."""
    n = len(seeds) * per_seed
    out: Choices = {}
    for name in params:
        spec = space.params[name]
        base = [s[name] for _ in range(per_seed) for s in seeds]
        if spec.kind in ("categorical", "constant"):
            values = list(spec.values or [])
            idx = np.array([next((i for i, v in enumerate(values) if same_value(v, b)), 0) for b in base])
            flip = rng.random(n) < (switch if spec.kind == "categorical" else 0.0)
            idx[flip] = rng.integers(len(values), size=int(flip.sum()))
            out[name] = (values, idx)
            continue
        x = np.asarray(base, dtype=np.float64)
        lo, hi = spec.min, spec.max
        if lo is not None and hi is not None and spec.log and lo > 0:
            x = np.exp(np.log(np.maximum(x, lo)) + rng.normal(0.0, scale * (math.log(hi) - math.log(lo)), n))
        elif lo is not None and hi is not None:
            x = x + rng.normal(0.0, scale * (hi - lo), n)
        else:
            x = x + rng.normal(0.0, scale * (spec.sigma or 1.0), n)
        out[name] = (_repair(spec, x), np.arange(n))
    return out, n


def complete(space: SearchSpace, chosen: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """A full valid config: `chosen` values, then `defaults` (e.g. the runs' most common value) for
    parameters the model does not see, then the space's own default (first value, midpoint)."""
    base = space.snap({}).config
    for name, value in defaults.items():
        if name in space.params and space.validate_config({**base, name: value}).ok:
            base[name] = value
    result = space.validate_config({**base, **{k: v for k, v in chosen.items() if k in space.params}})
    return result.config if result.ok else space.snap({**base, **chosen}).config
