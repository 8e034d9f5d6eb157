"""The search space, written once as a W&B sweep YAML and read from there by everything else.

The trainer, the LLM's JSON schema, the validator/repairer of LLM output, the baselines (random
and grid) and the evaluation all use this one model, so they cannot drift apart (DESIGN.md §3).
Parameter names are flat: a nested W&B parameter `optimizer: {parameters: {lr: ...}}` is
`optimizer.lr`; `flatten`/`nest` convert configs between the two shapes.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from metallmix_wandb.space.values import (
    MISSING,
    check_value,
    count,
    discrete_values,
    sample_value,
    snap_value,
)
from metallmix_wandb.space.parse import METHODS, SearchSpaceError, flatten_config, parse_parameters
from metallmix_wandb.space.schema import param_json_schema
from metallmix_wandb.space.spec import DISTRIBUTIONS, ParamSpec

__all__ = [
    "DISTRIBUTIONS",
    "Change",
    "Metric",
    "ParamSpec",
    "SearchSpace",
    "SearchSpaceError",
    "SnapResult",
    "ValidationResult",
    "flatten_config",
]


class Metric(BaseModel):
    """The sweep's `metric` block (W&B defaults `goal` to minimize)."""

    name: str
    goal: Literal["minimize", "maximize"] = "minimize"
    target: float | None = None


class ValidationResult(BaseModel):
    """Every problem with a config at once, so a repair prompt can list them all."""

    ok: bool
    config: dict[str, Any] | None = Field(default=None, description="flat, coerced; None unless ok")
    errors: list[str] = Field(default_factory=list)


class Change(BaseModel):
    """One edit `snap` made, shown to the user so a repaired recommendation is never silent."""

    name: str
    before: Any = None
    after: Any = None
    reason: str


class SnapResult(BaseModel):
    config: dict[str, Any]
    changes: list[Change] = Field(default_factory=list)


def _fresh(v: Any) -> Any:
    """A copy of mutable values (list/dict categorical values) so callers cannot alias the space."""
    return copy.deepcopy(v) if isinstance(v, (list, dict)) else v


class SearchSpace(BaseModel):
    """The hyperparameters a sweep explores, flat and ordered as in the YAML."""

    params: dict[str, ParamSpec]
    method: str | None = None
    metric: Metric | None = None
    program: str | None = None
    command: list[Any] | None = None
    description: str | None = Field(None, description="the sweep's `description`: what the project trains, "
                                    "the task the prompts name (recommend/prompts.py)")

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_sweep_config(cls, sweep_config: Mapping[str, Any]) -> SearchSpace:
        """From a whole sweep config (a dict as `wandb.sweep` takes it)."""
        if not isinstance(sweep_config, Mapping):
            raise SearchSpaceError("sweep config", f"must be a mapping, got {type(sweep_config).__name__}")
        if "parameters" not in sweep_config:
            raise SearchSpaceError("parameters", "missing: the sweep config has no 'parameters' block")
        params = parse_parameters(sweep_config["parameters"])
        method = sweep_config.get("method")
        if method is not None and method not in METHODS:
            raise SearchSpaceError("method", f"unknown method {method!r} (expected one of {list(METHODS)})")
        metric = sweep_config.get("metric")
        if metric is not None:
            if not isinstance(metric, Mapping) or not isinstance(metric.get("name"), str):
                raise SearchSpaceError("metric", "must be a mapping with a 'name' (and optionally 'goal')")
            goal = metric.get("goal", "minimize")
            if goal not in ("minimize", "maximize"):
                raise SearchSpaceError("metric.goal", f"must be 'minimize' or 'maximize', got {goal!r}")
            target = metric.get("target")
            if target is not None and (isinstance(target, bool) or not isinstance(target, (int, float))):
                raise SearchSpaceError("metric.target", f"must be a number, got {target!r}")
            metric = Metric(name=metric["name"], goal=goal, target=target)
        program, command = sweep_config.get("program"), sweep_config.get("command")
        if program is not None and not isinstance(program, str):
            raise SearchSpaceError("program", f"must be a string, got {program!r}")
        if command is not None and not isinstance(command, list):
            raise SearchSpaceError("command", f"must be a list, got {command!r}")
        description = sweep_config.get("description")
        if description is not None and not isinstance(description, str):
            raise SearchSpaceError("description", f"must be a string, got {description!r}")
        return cls(params=params, method=method, metric=metric, program=program, command=command,
                   description=description.strip() or None if description else None)

    @classmethod
    def from_yaml_text(cls, text: str, source: str = "<string>") -> SearchSpace:
        """From sweep YAML text; errors are prefixed with `source` (a file name)."""
        from metallmix_wandb.space.yaml_io import load_yaml_text  # PyYAML only where YAML is read

        return cls._from_data(load_yaml_text(text, source), source)

    @classmethod
    def _from_data(cls, data: Any, source: str) -> SearchSpace:
        if data is None:
            raise SearchSpaceError(source, "empty: expected a sweep config with a 'parameters' block")
        if not isinstance(data, Mapping):
            raise SearchSpaceError(source, f"expected a sweep config mapping, got {type(data).__name__}")
        try:
            return cls.from_sweep_config(data)
        except SearchSpaceError as e:
            raise SearchSpaceError(f"{source}: {e.key}" if e.key else source, e.problem) from None

    @classmethod
    def from_yaml(cls, path: str | Path) -> SearchSpace:
        """From a sweep YAML file (bounded: `read_yaml_file`)."""
        from metallmix_wandb.space.yaml_io import read_yaml_file

        return cls._from_data(read_yaml_file(path), str(path))

    # ------------------------------------------------------------------ views

    @property
    def names(self) -> list[str]:
        return list(self.params)

    @property
    def tunable(self) -> dict[str, ParamSpec]:
        """The non-constant parameters, in order."""
        return {n: s for n, s in self.params.items() if s.kind != "constant"}

    @property
    def constants(self) -> dict[str, Any]:
        return {n: _fresh(s.value) for n, s in self.params.items() if s.kind == "constant"}

    def without(self, *names: str) -> SearchSpace:
        """This space minus some parameters (e.g. `dataset`, which the sweep YAML also sweeps)."""
        unknown = [n for n in names if n not in self.params]
        if unknown:
            raise SearchSpaceError("parameters", f"no parameter(s) {unknown} to remove")
        kept = {n: s for n, s in self.params.items() if n not in names}
        if not kept:
            raise SearchSpaceError("parameters", "removing them would leave no parameters")
        return self.model_copy(update={"params": kept})

    def _groups(self) -> set[str]:
        return {".".join(s.path[:i]) for s in self.params.values() for i in range(1, len(s.path))}

    def _flatten(self, config: Mapping[Any, Any]) -> tuple[dict[str, Any], list[str]]:
        """Flatten only where the space has nested groups, so dict-valued constants survive."""
        groups, flat, problems = self._groups(), {}, []

        def walk(d: Mapping[Any, Any], prefix: str) -> None:
            for key, val in d.items():
                if not isinstance(key, str):
                    problems.append(f"{key!r}: parameter names must be strings")
                    continue
                name = f"{prefix}{key}"
                if name in groups and isinstance(val, Mapping):
                    walk(val, f"{name}.")
                    continue
                if name in flat:
                    problems.append(f"{name}: given twice (nested and dotted)")
                flat[name] = val

        walk(config, "")
        return flat, problems

    def flatten(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """A nested W&B-style config -> flat dotted names (already-flat keys pass through)."""
        return self._flatten(config)[0]

    def nest(self, flat: Mapping[str, Any]) -> dict[str, Any]:
        """Flat dotted names -> the nested shape W&B gives `wandb.config` for nested parameters."""
        out: dict[str, Any] = {}
        for name, val in flat.items():
            path = self.params[name].path if name in self.params else [name]
            node = out
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node[path[-1]] = val
        return out

    # ------------------------------------------------------------------ schema, validation, repair

    def json_schema(self, nested: bool = False) -> dict[str, Any]:
        """A strict JSON Schema (OpenAI structured outputs): every key required, nothing extra."""

        def obj() -> dict[str, Any]:
            return {"type": "object", "properties": {}, "required": [], "additionalProperties": False}

        root = obj()
        for name, spec in self.params.items():
            node, path = root, spec.path if nested else [name]
            for part in path[:-1]:
                if part not in node["properties"]:
                    node["properties"][part] = obj()
                    node["required"].append(part)
                node = node["properties"][part]
            node["properties"][path[-1]] = param_json_schema(spec)
            node["required"].append(path[-1])
        return root

    def validate_config(self, config: Any) -> ValidationResult:
        """Check a config (flat or nested) and list every problem; never raises."""
        try:
            return self._validate(config)
        except Exception as e:  # noqa: BLE001 - the contract is "errors, not exceptions" for any input
            return ValidationResult(ok=False, errors=[f"config: could not be checked ({type(e).__name__}: {e})"])

    def _validate(self, config: Any) -> ValidationResult:
        if not isinstance(config, Mapping):
            got = "null" if config is None else type(config).__name__
            return ValidationResult(ok=False, errors=[f"config: expected an object with keys {self.names}, got {got}"])
        flat, errors = self._flatten(config)
        out: dict[str, Any] = {}
        for name, spec in self.params.items():
            if name not in flat:
                if spec.kind == "constant":
                    out[name] = _fresh(spec.value)
                else:
                    errors.append(f"{name}: missing")
                continue
            value, problems = check_value(spec, flat[name])
            errors.extend(problems)
            if not problems:
                out[name] = _fresh(value)
        errors.extend(f"{key}: unknown parameter" for key in flat if key not in self.params)
        return ValidationResult(ok=not errors, config=None if errors else out, errors=errors)

    def snap(self, config: Any) -> SnapResult:
        """The nearest valid config, with every change listed; the result always validates."""
        changes: list[Change] = []
        if isinstance(config, Mapping):
            flat = self._flatten(config)[0]
        else:
            flat = {}
            if config is not None:
                changes.append(Change(name="config", before=config, reason="not an object: started from empty"))
        out: dict[str, Any] = {}
        for name, spec in self.params.items():
            before = flat.get(name, MISSING)
            after, reason = snap_value(spec, before)
            out[name] = _fresh(after)
            if reason is not None:
                changes.append(
                    Change(name=name, before=None if before is MISSING else before, after=after, reason=reason)
                )
        for key, val in flat.items():
            if key not in self.params:
                changes.append(Change(name=key, before=val, reason="unknown parameter: dropped"))
        return SnapResult(config=out, changes=changes)

    # ------------------------------------------------------------------ sampling and grids

    def sample(self, rng: np.random.Generator | int | None = None, n: int = 1) -> list[dict[str, Any]]:
        """n configs drawn from the W&B distributions (seed or Generator), each valid."""
        gen = np.random.default_rng(rng)
        return [{name: _fresh(sample_value(spec, gen)) for name, spec in self.params.items()} for _ in range(n)]

    def grid_size(self) -> int | None:
        """Number of configs in the full grid; None when any parameter is continuous."""
        total = 1
        for spec in self.params.values():
            values = discrete_values(spec)
            if values is None:
                return None
            total *= count(values)
        return total

    def iter_grid(self) -> Iterator[dict[str, Any]]:
        """Every config of a fully discrete space, first parameter varying slowest."""
        seqs = {name: discrete_values(spec) for name, spec in self.params.items()}
        continuous = [name for name, seq in seqs.items() if seq is None]
        if continuous:
            raise SearchSpaceError("parameters", f"not a grid: {continuous} are continuous")
        return self._grid(seqs)

    @staticmethod
    def _grid(seqs: dict[str, Any]) -> Iterator[dict[str, Any]]:
        items = list(seqs.items())
        total = 1
        for _, seq in items:
            total *= count(seq)
        for index in range(total):
            picked: dict[str, Any] = {}
            for name, seq in reversed(items):
                index, j = divmod(index, count(seq))
                picked[name] = _fresh(seq[j])
            yield {name: picked[name] for name, _ in items}

    # ------------------------------------------------------------------ back to W&B

    def to_sweep_parameters(self) -> dict[str, Any]:
        """The W&B `parameters` block (nested parameters re-nested); parses back to this space."""
        out: dict[str, Any] = {}
        for spec in self.params.values():
            node = out
            for part in spec.path[:-1]:
                node = node.setdefault(part, {"parameters": {}})["parameters"]
            node[spec.path[-1]] = spec.to_sweep()
        return out

    def to_sweep_config(self) -> dict[str, Any]:
        """A whole sweep config: method, metric, program, command and parameters."""
        out: dict[str, Any] = {}
        if self.description is not None:
            out["description"] = self.description
        if self.method is not None:
            out["method"] = self.method
        if self.metric is not None:
            out["metric"] = self.metric.model_dump(exclude_none=True)
        if self.program is not None:
            out["program"] = self.program
        if self.command is not None:
            out["command"] = copy.deepcopy(self.command)
        out["parameters"] = self.to_sweep_parameters()
        return out
