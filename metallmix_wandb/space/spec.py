"""One hyperparameter of a W&B sweep (`ParamSpec`) and the distribution vocabulary it is written in.

The leaf of the `space` package: `values` (operations on one parameter) and `parse` (YAML -> specs)
both build on it, so dependencies run one way: search_space -> parse -> values -> spec. Tested
through tests/space/test_search_space.py.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel

Kind = Literal["categorical", "constant", "int", "float"]

# distribution -> the keys it accepts besides `distribution` (W&B sweep config keys).
DISTRIBUTION_KEYS: dict[str, frozenset[str]] = {
    "constant": frozenset({"value"}),
    "categorical": frozenset({"values", "probabilities"}),
    "categorical_w_probabilities": frozenset({"values", "probabilities"}),
    "int_uniform": frozenset({"min", "max"}),
    "uniform": frozenset({"min", "max"}),
    "q_uniform": frozenset({"min", "max", "q"}),
    "log_uniform": frozenset({"min", "max"}),
    "log_uniform_values": frozenset({"min", "max"}),
    "q_log_uniform": frozenset({"min", "max", "q"}),
    "q_log_uniform_values": frozenset({"min", "max", "q"}),
    "inv_log_uniform": frozenset({"min", "max"}),
    "inv_log_uniform_values": frozenset({"min", "max"}),
    "normal": frozenset({"mu", "sigma"}),
    "q_normal": frozenset({"mu", "sigma", "q"}),
    "log_normal": frozenset({"mu", "sigma"}),
    "q_log_normal": frozenset({"mu", "sigma", "q"}),
    "beta": frozenset({"a", "b"}),
    "q_beta": frozenset({"a", "b", "q"}),
}
DISTRIBUTIONS = frozenset(DISTRIBUTION_KEYS)
PARAM_KEYS = frozenset({"distribution", "parameters"}).union(*DISTRIBUTION_KEYS.values())
# Distributions whose min/max are natural-log exponents rather than values.
EXPONENT_BOUNDS = frozenset({"log_uniform", "q_log_uniform", "inv_log_uniform"})
LOG_DISTRIBUTIONS = frozenset(
    {"log_uniform", "log_uniform_values", "q_log_uniform", "q_log_uniform_values", "inv_log_uniform",
     "inv_log_uniform_values", "log_normal", "q_log_normal"}
)


class ParamSpec(BaseModel):
    """One hyperparameter, flattened; `min`/`max` are always in value space (not exponents)."""

    name: str
    path: list[str]
    kind: Kind
    distribution: str
    values: list[Any] | None = None
    probabilities: list[float] | None = None
    min: float | None = None
    max: float | None = None
    q: float | None = None
    mu: float | None = None
    sigma: float | None = None
    a: float | None = None
    b: float | None = None
    log: bool = False

    @property
    def value(self) -> Any:
        """The constant's value (None for non-constants)."""
        return self.values[0] if self.kind == "constant" and self.values else None

    @property
    def tunable(self) -> bool:
        return self.kind != "constant"

    def to_sweep(self) -> dict[str, Any]:
        """This parameter as a W&B sweep `parameters` entry."""
        d = self.distribution
        if self.kind == "constant":
            return {"value": self.value}
        if self.kind == "categorical":
            out: dict[str, Any] = {"values": list(self.values or [])}
            if d == "categorical_w_probabilities":
                out["distribution"] = d
            if self.probabilities is not None:
                out["probabilities"] = list(self.probabilities)
            return out
        out = {} if d == "int_uniform" else {"distribution": d}  # W&B infers int_uniform
        if "min" in DISTRIBUTION_KEYS[d] and self.min is not None and self.max is not None:
            if d == "inv_log_uniform":
                out["min"], out["max"] = -math.log(self.max), -math.log(self.min)
            elif d in EXPONENT_BOUNDS:
                out["min"], out["max"] = math.log(self.min), math.log(self.max)
            else:
                whole = self.kind == "int" and self.min.is_integer() and self.max.is_integer()
                out["min"], out["max"] = (int(self.min), int(self.max)) if whole else (self.min, self.max)
        for key in ("mu", "sigma", "a", "b"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.q is not None:
            out["q"] = int(self.q) if self.kind == "int" else float(self.q)
        return out
