"""One parameter's value rules (space/values.py) through SearchSpace: JSON Schema, validation, snap."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from metallmix_wandb.space.search_space import SearchSpace
from tests.support.spaces import GOOD, NESTED, space_of
from tests.support.require import require_module


# ----------------------------------------------------------------------------- JSON Schema

ALLOWED_KEYWORDS = {"type", "properties", "required", "additionalProperties", "enum", "const", "minimum",
                    "maximum", "description"}


def _walk_objects(schema: dict[str, Any]) -> list[dict[str, Any]]:
    found = [schema] if schema.get("type") == "object" else []
    for sub in schema.get("properties", {}).values():
        found += _walk_objects(sub)
    return found


@pytest.mark.parametrize("nested", [False, True])
def test_json_schema_is_strict_mode_compatible(every: SearchSpace, nested: bool) -> None:
    for s in (every, SearchSpace.from_sweep_config(NESTED)):
        schema = s.json_schema(nested=nested)
        json.dumps(schema)
        for obj in _walk_objects(schema):
            assert obj["additionalProperties"] is False
            assert obj["required"] == list(obj["properties"])
            for prop in obj["properties"].values():
                assert set(prop) <= ALLOWED_KEYWORDS


def test_json_schema_types(space: SearchSpace, every: SearchSpace) -> None:
    props = space.json_schema()["properties"]
    assert props["base_model"]["type"] == "string" and "resnet50" in props["base_model"]["enum"]
    assert props["dense_units"] == {"type": "integer", "enum": [64, 128, 256, 512], "description": "one of the values"}
    assert props["epochs"]["const"] == 1 and props["epochs"]["type"] == "integer"
    assert (props["learning_rate"]["minimum"], props["learning_rate"]["maximum"]) == (1e-5, 1e-2)
    eprops = every.json_schema()["properties"]
    assert "minimum" not in eprops["normal"] and "maximum" not in eprops["normal"]
    assert eprops["int_uniform"] == {"type": "integer", "minimum": 1, "maximum": 10, "description": eprops["int_uniform"]["description"]}


def test_json_schema_agrees_with_validate(space: SearchSpace, every: SearchSpace) -> None:
    jsonschema = require_module("jsonschema")
    for s in (space, every):
        schema = s.json_schema()
        jsonschema.Draft202012Validator.check_schema(schema)
        for config in s.sample(np.random.default_rng(1), 50):
            jsonschema.validate(config, schema)
    schema = space.json_schema()
    for bad in ({**GOOD, "dropout": 0.9}, {**GOOD, "optimizer": "adamw"}, {**GOOD, "extra": 1},
                {k: v for k, v in GOOD.items() if k != "dropout"}, {**GOOD, "dense_units": 64.5}):
        assert not space.validate_config(bad).ok
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


# ----------------------------------------------------------------------------- validation


def test_valid_config_passes_and_is_coerced(space: SearchSpace) -> None:
    result = space.validate_config({**GOOD, "learning_rate": "0.001", "dense_units": 256.0, "dropout": 0})
    assert result.ok and result.errors == []
    assert result.config == {**GOOD, "dropout": 0.0}
    assert type(result.config["dense_units"]) is int and type(result.config["dropout"]) is float
    json.dumps(result.model_dump())


def test_constant_missing_is_filled_not_an_error(space: SearchSpace) -> None:
    config = {k: v for k, v in GOOD.items() if k != "epochs"}
    assert space.validate_config(config).config == GOOD
    assert space.validate_config({**GOOD, "epochs": 5}).errors == ["epochs: must be the constant 1, got 5"]


def test_validate_collects_every_problem(space: SearchSpace) -> None:
    bad = {"base_model": "resnet51", "dense_units": 100, "dropout": 0.9, "optimizer": "Adam",
           "learning_rate": float("nan"), "batch_size": "32", "extra": True}
    result = space.validate_config(bad)
    assert not result.ok and result.config is None
    assert result.errors == [
        "base_model: 'resnet51' is not one of ['resnet50', 'efficientnet_b0', 'efficientnet_b5', 'densenet121', 'inception_...",
        "fine_tuning: missing",
        "dense_units: 100 is not one of [64, 128, 256, 512]",
        "dropout: 0.9 is above the maximum 0.6",
        "optimizer: 'Adam' is not one of ['adam', 'sgd', 'rmsprop']",
        "learning_rate: NaN is not a valid number",
        "batch_size: '32' is not one of [16, 32, 64]",
        "extra: unknown parameter",
    ]


@pytest.mark.parametrize(
    ("params", "config", "error"),
    [
        ({"n": {"min": 1, "max": 5}}, {"n": 2.5}, "n: expected an integer, got 2.5"),
        ({"n": {"min": 1, "max": 5}}, {"n": True}, "n: expected an integer, got bool True"),
        ({"x": {"min": 0.0, "max": 1.0}}, {"x": "abc"}, "x: expected a number, got str 'abc'"),
        ({"x": {"min": 0.0, "max": 1.0}}, {"x": float("inf")}, "x: inf is not finite"),
        ({"x": {"min": 0.0, "max": 1.0}}, {"x": -0.5}, "x: -0.5 is below the minimum 0"),
        ({"x": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.25}}, {"x": 0.3}, "x: 0.3 is not a multiple of q=0.25"),
        ({"b": {"values": [True, False]}}, {"b": 1}, "b: 1 is not one of [True, False]"),
        ({"i": {"values": [0, 1]}}, {"i": False}, "i: False is not one of [0, 1]"),
        ({"x": {"distribution": "log_normal"}}, {"x": -1}, "x: -1.0 is below the minimum 0"),
    ],
)
def test_validate_type_and_range_errors(params: dict[str, Any], config: dict[str, Any], error: str) -> None:
    assert space_of(**params).validate_config(config).errors == [error]


def test_q_multiples_tolerate_float_noise() -> None:
    s = space_of(x={"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 0.1})
    assert s.validate_config({"x": 0.1 + 0.2}).ok
    assert s.validate_config({"x": 0.7}).ok


def test_log_uniform_exponent_bounds_accept_the_round_values() -> None:
    s = space_of(lr={"distribution": "log_uniform", "min": math.log(1e-5), "max": math.log(1e-2)})
    assert s.validate_config({"lr": 1e-5}).ok and s.validate_config({"lr": 1e-2}).ok


@pytest.mark.parametrize("config", [None, [], [1, 2], "resnet50", 3, 2.5, True, {1: 2}, {"base_model": [1, {}]}])
def test_validate_never_raises_on_junk(space: SearchSpace, config: Any) -> None:
    result = space.validate_config(config)
    assert not result.ok and result.errors and result.config is None
    assert not any("could not be checked" in e for e in result.errors)


# ----------------------------------------------------------------------------- snap


def test_snap_repairs_to_the_nearest_valid_config(space: SearchSpace) -> None:
    result = space.snap({"base_model": " ResNet 50 ", "fine_tuning": "partial-10", "dense_units": 300,
                         "dropout": "0.75", "optimizer": "ADAM", "learning_rate": 5.0, "batch_size": 31.6,
                         "epochs": 3, "unknown": 1})
    assert result.config == {"base_model": "resnet50", "fine_tuning": "partial_10", "dense_units": 256,
                             "dropout": 0.6, "optimizer": "adam", "learning_rate": 0.01, "batch_size": 32, "epochs": 1}
    assert space.validate_config(result.config).ok
    changed = {c.name: c for c in result.changes}
    assert set(changed) == set(result.config) | {"unknown"}
    assert changed["unknown"].after is None and "dropped" in changed["unknown"].reason
    assert changed["dropout"].before == "0.75" and "above the maximum" in changed["dropout"].reason


def test_snap_leaves_a_valid_config_alone(space: SearchSpace) -> None:
    result = space.snap(GOOD)
    assert result.config == GOOD and result.changes == []


def test_snap_missing_uses_midpoints_and_first_values() -> None:
    s = space_of(lr={"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-2},
                 d={"min": 0.0, "max": 0.5}, n={"min": 1, "max": 4}, c={"values": ["x", "y"]},
                 m={"distribution": "normal", "mu": 3.0})
    result = s.snap({})
    assert result.config["lr"] == pytest.approx(1e-3)
    assert result.config == {"lr": result.config["lr"], "d": 0.25, "n": 2, "c": "x", "m": 3.0}
    assert all(c.reason.startswith("missing") for c in result.changes)


def test_snap_rounds_ints_and_q_and_clips_in_value_space() -> None:
    s = space_of(n={"min": 1, "max": 9}, q={"distribution": "q_uniform", "min": 0.05, "max": 0.95, "q": 0.1},
                 u={"distribution": "q_log_uniform_values", "min": 8, "max": 512, "q": 8},
                 lr={"distribution": "log_uniform", "min": -4.0, "max": -1.0})
    result = s.snap({"n": 4.6, "q": 0.01, "u": 100, "lr": 1e-9})
    assert result.config["n"] == 5 and result.config["q"] == 0.1 and result.config["u"] == 96
    assert result.config["lr"] == pytest.approx(math.exp(-4.0))
    assert s.validate_config(result.config).ok


def test_snap_handles_non_mappings(space: SearchSpace) -> None:
    for junk in (None, [1, 2], "x"):
        assert space.validate_config(space.snap(junk).config).ok
