"""One parameter as JSON Schema, for the LLM's structured output (only keywords OpenAI strict mode accepts).

Kept apart from `values` so each file stays small. Tested through tests/space/test_search_space.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from metallmix_wandb.numbers import fixed

if TYPE_CHECKING:
    from metallmix_wandb.space.spec import ParamSpec


def json_type(v: Any) -> str:
    """The JSON Schema type name of a plain value."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, Mapping):
        return "object"
    return "array"


_DESCRIBE = {
    "int_uniform": "integer, uniform", "uniform": "uniform", "q_uniform": "uniform",
    "log_uniform": "log-uniform", "log_uniform_values": "log-uniform", "q_log_uniform": "log-uniform",
    "q_log_uniform_values": "log-uniform", "inv_log_uniform": "log-uniform",
    "inv_log_uniform_values": "log-uniform", "beta": "beta", "q_beta": "beta",
}


def param_json_schema(spec: ParamSpec) -> dict[str, Any]:
    """A JSON Schema for one parameter, using only keywords OpenAI strict mode accepts."""
    if spec.kind == "constant":
        return {"type": json_type(spec.value), "const": spec.value, "description": "constant"}
    if spec.kind == "categorical":
        values = list(spec.values or [])
        types = list(dict.fromkeys(json_type(v) for v in values))
        if "integer" in types and "number" in types:
            types.remove("integer")
        return {"type": types[0] if len(types) == 1 else types, "enum": values, "description": "one of the values"}
    d = spec.distribution
    out: dict[str, Any] = {"type": "integer" if spec.kind == "int" else "number"}
    if d in ("normal", "q_normal", "log_normal", "q_log_normal"):
        what = "log-normal" if spec.log else "normal"
        desc = f"{what}, mu={spec.mu:g}, sigma={spec.sigma:g}"
    else:
        desc = f"{_DESCRIBE.get(d, d)} between {fixed(spec.min, 'g')} and {fixed(spec.max, 'g')}"
    if spec.min is not None:
        out["minimum"] = math.ceil(spec.min) if spec.kind == "int" else spec.min
    if spec.max is not None and d not in ("normal", "q_normal"):
        out["maximum"] = math.floor(spec.max) if spec.kind == "int" else spec.max
    if spec.q:
        desc += f", a multiple of {fixed(spec.q, 'g')}"
    out["description"] = desc
    return out
