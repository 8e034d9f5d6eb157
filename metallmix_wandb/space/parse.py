"""Parse a W&B sweep `parameters` block into flat `ParamSpec`s (helpers for `search_space`).

The rules follow W&B's sweep config keys (and the `sweeps` 0.3.0 engine's schema), so the one
YAML a team already gives `wandb sweep` is also what the recommender validates against.
Tested through tests/space/test_search_space.py.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from metallmix_wandb.space.spec import (
    DISTRIBUTION_KEYS,
    DISTRIBUTIONS,
    EXPONENT_BOUNDS,
    LOG_DISTRIBUTIONS,
    PARAM_KEYS,
    Kind,
    ParamSpec,
)
from metallmix_wandb.space.values import as_number, plain, q_bounds, same_value

METHODS = ("bayes", "random", "grid", "custom")
MAX_PROBLEM_CHARS = 500
"""An error names what is wrong; it never echoes a whole (possibly huge) value."""


def _capped(text: str) -> str:
    if len(text) <= MAX_PROBLEM_CHARS:
        return text
    return f"{text[:MAX_PROBLEM_CHARS]}... ({len(text)} characters)"


class SearchSpaceError(ValueError):
    """A sweep config we cannot use; the message starts with the offending key."""

    def __init__(self, key: str, problem: str | None = None) -> None:
        key, problem = _capped(key), None if problem is None else _capped(problem)
        self.key = key if problem is not None else None
        self.problem = problem if problem is not None else key
        super().__init__(f"{key}: {problem}" if problem is not None else key)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self),))


# --------------------------------------------------------------------------- nested configs


def flatten_config(config: Mapping[str, Any], sep: str = ".") -> dict[str, Any]:
    """{'optimizer': {'lr': 1}} -> {'optimizer.lr': 1}; every nested mapping is flattened."""
    out: dict[str, Any] = {}
    for key, val in config.items():
        if isinstance(val, Mapping) and val:
            for sub, v in flatten_config(val, sep).items():
                out[f"{key}{sep}{sub}"] = v
        else:
            out[str(key)] = val
    return out


# --------------------------------------------------------------------------- parameters


def parse_parameters(block: Any, key: str = "parameters", prefix: tuple[str, ...] = ()) -> dict[str, ParamSpec]:
    """Flatten a W&B `parameters` block (recursing into nested `parameters:`) into ParamSpecs."""
    if not isinstance(block, Mapping):
        raise SearchSpaceError(key, f"must be a mapping of parameter names, got {type(block).__name__}")
    if not block:
        raise SearchSpaceError(key, "has no parameters")
    out: dict[str, ParamSpec] = {}
    for name, raw in block.items():
        if not isinstance(name, str) or not name:
            raise SearchSpaceError(key, f"parameter names must be non-empty strings, got {name!r}")
        pkey = f"{key}.{name}"
        path = (*prefix, name)
        if isinstance(raw, Mapping) and "parameters" in raw:
            extra = sorted(str(k) for k in raw if k != "parameters")
            if extra:
                raise SearchSpaceError(pkey, f"a nested parameter takes only 'parameters', not {extra}")
            specs = parse_parameters(raw["parameters"], f"{pkey}.parameters", path)
        else:
            spec = parse_param(raw, pkey, path)
            specs = {spec.name: spec}
        for flat_name, spec in specs.items():
            if flat_name in out:
                raise SearchSpaceError(pkey, f"flattened name {flat_name!r} is defined twice")
            out[flat_name] = spec
    return out


def _num(raw: Mapping[str, Any], name: str, key: str, default: float | None = None) -> Any:
    """A finite number from a param field (numeric strings too); keeps ints as ints."""
    if name not in raw:
        if default is None:
            raise SearchSpaceError(key, f"'{name}' is missing")
        return default
    v = raw[name]
    n = as_number(v)
    if n is None or (isinstance(v, str) and not v.strip()):
        raise SearchSpaceError(key, f"'{name}' must be a number, got {v!r}")
    if isinstance(n, float) and not math.isfinite(n):
        raise SearchSpaceError(key, f"'{name}' must be finite, got {v!r}")
    return float(n) if isinstance(v, str) else n


def _infer_distribution(raw: Mapping[str, Any], key: str) -> str:
    """W&B's inference when `distribution` is absent."""
    if "values" in raw:
        return "categorical"
    if "value" in raw:
        return "constant"
    if "min" in raw and "max" in raw:
        lo, hi = raw["min"], raw["max"]
        ints = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (lo, hi))
        return "int_uniform" if ints else "uniform"
    if "min" in raw or "max" in raw:
        raise SearchSpaceError(key, f"'{'max' if 'min' in raw else 'min'}' is missing")
    raise SearchSpaceError(key, "cannot tell the distribution: give 'values', 'value', 'min'/'max' or 'distribution'")


def _has_nan(x: Any) -> bool:
    if isinstance(x, float):
        return math.isnan(x)
    if isinstance(x, Mapping):
        return any(_has_nan(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return any(_has_nan(v) for v in x)
    return False


def parse_param(raw: Any, key: str, path: tuple[str, ...]) -> ParamSpec:
    """One leaf parameter block -> ParamSpec, with W&B's defaults (q=1.0, mu=0, sigma=1, a=b=1)."""
    if not isinstance(raw, Mapping):
        raise SearchSpaceError(key, f"must be a mapping like {{values: [...]}} or {{min: .., max: ..}}, got {raw!r}")
    unknown = sorted(str(k) for k in raw if k not in PARAM_KEYS)
    if unknown:
        hint = difflib.get_close_matches(unknown[0], sorted(PARAM_KEYS), n=1)
        raise SearchSpaceError(key, f"unknown key {unknown[0]!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    dist = raw.get("distribution")
    if dist is None:
        dist = _infer_distribution(raw, key)
    elif not isinstance(dist, str) or dist not in DISTRIBUTIONS:
        hint = difflib.get_close_matches(str(dist), sorted(DISTRIBUTIONS), n=1)
        raise SearchSpaceError(key, f"unknown distribution {dist!r}" + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    allowed = DISTRIBUTION_KEYS[dist]
    for k in raw:
        if k != "distribution" and k not in allowed:
            raise SearchSpaceError(key, f"'{k}' does not apply to distribution '{dist}'")
    common: dict[str, Any] = {"name": ".".join(path), "path": list(path), "distribution": dist}
    if dist == "constant":
        if "value" not in raw:
            raise SearchSpaceError(key, "'value' is missing")
        if _has_nan(raw["value"]):
            raise SearchSpaceError(key, "'value' is NaN, which no config can equal")
        return ParamSpec(kind="constant", values=[plain(raw["value"])], **common)
    if dist in ("categorical", "categorical_w_probabilities"):
        return _parse_categorical(raw, key, dist, common)
    return _parse_numeric(raw, key, dist, common)


def _parse_categorical(raw: Mapping[str, Any], key: str, dist: str, common: dict[str, Any]) -> ParamSpec:
    values = raw.get("values")
    if not isinstance(values, (list, tuple)):
        raise SearchSpaceError(key, f"'values' must be a list, got {values!r}")
    values = plain(list(values))
    if not values:
        raise SearchSpaceError(key, "'values' is empty")
    for i, v in enumerate(values):
        if _has_nan(v):
            raise SearchSpaceError(key, "'values' contains NaN, which no config can equal")
        if any(same_value(v, w) for w in values[:i]):
            raise SearchSpaceError(key, f"'values' lists {v!r} twice")
    probs = raw.get("probabilities")
    if probs is None and dist == "categorical_w_probabilities":
        raise SearchSpaceError(key, "'probabilities' is missing")
    if probs is not None:
        if not isinstance(probs, (list, tuple)) or len(probs) != len(values):
            raise SearchSpaceError(key, f"'probabilities' must be a list of {len(values)} numbers, one per value")
        nums = [as_number(p) for p in probs]
        if any(p is None or not math.isfinite(p) or p < 0 for p in nums):
            raise SearchSpaceError(key, f"'probabilities' must be numbers >= 0, got {list(probs)!r}")
        total = float(sum(nums))  # type: ignore[arg-type]
        if not math.isclose(total, 1.0, rel_tol=1e-5, abs_tol=1e-8):
            raise SearchSpaceError(key, f"'probabilities' sum to {total:g}, not 1")
        probs = [float(p) / total for p in nums]  # type: ignore[arg-type]
    return ParamSpec(kind="categorical", values=values, probabilities=probs, **common)


def _parse_numeric(raw: Mapping[str, Any], key: str, dist: str, common: dict[str, Any]) -> ParamSpec:
    log = dist in LOG_DISTRIBUTIONS
    q_raw = _num(raw, "q", key, 1.0) if dist.startswith("q_") else None
    if q_raw is not None and q_raw <= 0:
        raise SearchSpaceError(key, f"'q' ({q_raw}) must be > 0")
    kind: Kind = "int" if dist == "int_uniform" or isinstance(q_raw, int) else "float"
    fields: dict[str, Any] = {"q": float(q_raw) if q_raw is not None else None}
    if "min" in DISTRIBUTION_KEYS[dist]:
        lo, hi = _num(raw, "min", key), _num(raw, "max", key)
        if lo >= hi:
            raise SearchSpaceError(key, f"'min' ({lo}) must be below 'max' ({hi})")
        if dist == "int_uniform" and not (float(lo).is_integer() and float(hi).is_integer()):
            raise SearchSpaceError(key, f"int_uniform needs integer 'min' and 'max', got {lo} and {hi}")
        if dist in EXPONENT_BOUNDS:
            try:
                lo, hi = (math.exp(-hi), math.exp(-lo)) if dist == "inv_log_uniform" else (math.exp(lo), math.exp(hi))
            except OverflowError:
                raise SearchSpaceError(key, f"'min'/'max' are natural-log exponents; e^{hi} overflows") from None
            if lo <= 0:
                raise SearchSpaceError(key, "'min'/'max' are natural-log exponents; the lower bound underflows to 0")
        elif log and lo <= 0:
            raise SearchSpaceError(key, f"'min' ({lo}) must be > 0 for {dist}")
        fields.update(min=float(lo), max=float(hi))
    elif dist in ("normal", "q_normal", "log_normal", "q_log_normal"):
        sigma = _num(raw, "sigma", key, 1.0)
        if sigma < 0:
            raise SearchSpaceError(key, f"'sigma' ({sigma}) must be >= 0")
        fields.update(mu=float(_num(raw, "mu", key, 0.0)), sigma=float(sigma))
        if log:
            fields.update(min=0.0)
    else:  # beta, q_beta
        a, b = _num(raw, "a", key, 1.0), _num(raw, "b", key, 1.0)
        if a <= 0 or b <= 0:
            raise SearchSpaceError(key, f"'a' ({a}) and 'b' ({b}) must be > 0")
        fields.update(a=float(a), b=float(b), min=0.0, max=1.0)
    q = fields["q"]
    if q is not None and fields.get("min") is not None and fields.get("max") is not None:
        if not (math.isfinite(fields["min"] / q) and math.isfinite(fields["max"] / q)):
            raise SearchSpaceError(key, f"q={q_raw} is too small for [{fields['min']}, {fields['max']}]")
        k0, k1 = q_bounds(fields["min"], fields["max"], q)
        if k1 < k0:
            raise SearchSpaceError(key, f"no multiple of q={q_raw} lies within [{fields['min']}, {fields['max']}]")
    if kind == "int" and fields.get("min") is not None and fields.get("max") is not None:
        if math.floor(fields["max"]) < math.ceil(fields["min"]):
            raise SearchSpaceError(key, f"no integer lies within [{fields['min']}, {fields['max']}]")
    return ParamSpec(kind=kind, log=log, **fields, **common)
