from __future__ import annotations

import json
import math
import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metallmix_wandb.space.search_space import (
    DISTRIBUTIONS,
    SearchSpace,
    SearchSpaceError,
    flatten_config,
)
from tests.support.sweeps_engine import validate_with_sweeps_engine

SWEEP_YAML = """
method: bayes
metric: {name: val/acc, goal: maximize}
program: train.py
parameters:
  base_model:
    values: [resnet50, efficientnet_b0, efficientnet_b5, densenet121, inception_v3, resnet18,
             mobilenet_v2, mobilenet_v3_small]
  fine_tuning: {values: [feature_extraction, partial_10, partial_30, full]}
  dense_units: {values: [64, 128, 256, 512]}
  dropout: {min: 0.0, max: 0.6}
  optimizer: {values: [adam, sgd, rmsprop]}
  learning_rate: {distribution: log_uniform_values, min: 1e-5, max: 1e-2}
  batch_size: {values: [16, 32, 64]}
  epochs: {value: 1}
"""

GOOD = {
    "base_model": "resnet50",
    "fine_tuning": "full",
    "dense_units": 256,
    "dropout": 0.3,
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "batch_size": 32,
    "epochs": 1,
}

# One block per W&B distribution: (block, kind, value-space min, value-space max, log).
EVERY_DISTRIBUTION: dict[str, tuple[dict[str, Any], str, float | None, float | None, bool]] = {
    "constant": ({"distribution": "constant", "value": "x"}, "constant", None, None, False),
    "categorical": ({"distribution": "categorical", "values": [1, 2]}, "categorical", None, None, False),
    "categorical_w_probabilities": (
        {"distribution": "categorical_w_probabilities", "values": ["a", "b"], "probabilities": [0.25, 0.75]},
        "categorical", None, None, False,
    ),
    "int_uniform": ({"distribution": "int_uniform", "min": 1, "max": 10}, "int", 1, 10, False),
    "uniform": ({"distribution": "uniform", "min": -1.0, "max": 1.0}, "float", -1.0, 1.0, False),
    "q_uniform": ({"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 0.25}, "float", 0.0, 1.0, False),
    "log_uniform": ({"distribution": "log_uniform", "min": -2.0, "max": 0.0}, "float", math.exp(-2), 1.0, True),
    "log_uniform_values": ({"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1}, "float", 1e-4, 0.1, True),
    "q_log_uniform": ({"distribution": "q_log_uniform", "min": 0.0, "max": 5.0, "q": 1}, "int", 1.0, math.exp(5), True),
    "q_log_uniform_values": ({"distribution": "q_log_uniform_values", "min": 8, "max": 512, "q": 8}, "int", 8, 512, True),
    "inv_log_uniform": ({"distribution": "inv_log_uniform", "min": 0.0, "max": 3.0}, "float", math.exp(-3), 1.0, True),
    "inv_log_uniform_values": ({"distribution": "inv_log_uniform_values", "min": 0.01, "max": 1.0}, "float", 0.01, 1.0, True),
    "normal": ({"distribution": "normal", "mu": 1.0, "sigma": 2.0}, "float", None, None, False),
    "q_normal": ({"distribution": "q_normal", "mu": 10.0, "sigma": 3.0, "q": 2}, "int", None, None, False),
    "log_normal": ({"distribution": "log_normal", "mu": 0.0, "sigma": 1.0}, "float", 0.0, None, True),
    "q_log_normal": ({"distribution": "q_log_normal", "mu": 2.0, "sigma": 0.5, "q": 0.5}, "float", 0.0, None, True),
    "beta": ({"distribution": "beta", "a": 2.0, "b": 5.0}, "float", 0.0, 1.0, False),
    "q_beta": ({"distribution": "q_beta", "a": 2.0, "b": 2.0, "q": 0.1}, "float", 0.0, 1.0, False),
}


@pytest.fixture(scope="module")
def space() -> SearchSpace:
    return SearchSpace.from_yaml_text(SWEEP_YAML, "meta_dataset.yaml")


@pytest.fixture(scope="module")
def every() -> SearchSpace:
    return SearchSpace.from_sweep_config({"parameters": {k: v[0] for k, v in EVERY_DISTRIBUTION.items()}})


def space_of(**params: Any) -> SearchSpace:
    return SearchSpace.from_sweep_config({"parameters": params})


# ----------------------------------------------------------------------------- parsing


def test_project_space_parses(space: SearchSpace) -> None:
    assert space.names == list(GOOD)
    assert list(space.tunable) == [n for n in GOOD if n != "epochs"]
    assert space.constants == {"epochs": 1}
    assert space.method == "bayes" and space.metric is not None
    assert (space.metric.name, space.metric.goal) == ("val/acc", "maximize")
    assert space.program == "train.py"
    lr = space.params["learning_rate"]
    assert (lr.kind, lr.log, lr.min, lr.max) == ("float", True, 1e-5, 1e-2)  # 1e-5 read as a float
    assert space.params["dropout"].distribution == "uniform"
    assert space.params["dense_units"].values == [64, 128, 256, 512]


def test_yaml_reads_exponent_floats_as_numbers() -> None:
    # PyYAML (YAML 1.1) would give the string "1e-5"; the space reads YAML 1.2 floats.
    s = SearchSpace.from_yaml_text("parameters:\n  lr: {values: [1e-5, 3e-4, 1.0e-3]}\n")
    assert s.params["lr"].values == [1e-5, 3e-4, 1e-3]


def test_every_listed_distribution_is_covered() -> None:
    assert set(EVERY_DISTRIBUTION) == set(DISTRIBUTIONS)


@pytest.mark.parametrize("dist", sorted(EVERY_DISTRIBUTION))
def test_every_distribution_parses(every: SearchSpace, dist: str) -> None:
    _, kind, lo, hi, log = EVERY_DISTRIBUTION[dist]
    spec = every.params[dist]
    assert spec.distribution == dist and spec.kind == kind and spec.log == log
    assert spec.min == (pytest.approx(lo) if lo is not None else None)
    assert spec.max == (pytest.approx(hi) if hi is not None else None)


def test_defaults_follow_wandb() -> None:
    s = space_of(n={"distribution": "normal"}, q={"distribution": "q_uniform", "min": 0, "max": 4})
    assert (s.params["n"].mu, s.params["n"].sigma) == (0.0, 1.0)
    assert s.params["q"].q == 1.0 and s.params["q"].kind == "float"  # the schema's default q is 1.0


@pytest.mark.parametrize(
    ("block", "dist", "kind"),
    [
        ({"values": ["a", "b"]}, "categorical", "categorical"),
        ({"values": [1, 2], "probabilities": [0.5, 0.5]}, "categorical", "categorical"),
        ({"value": 3}, "constant", "constant"),
        ({"min": 1, "max": 5}, "int_uniform", "int"),
        ({"min": 0.1, "max": 0.5}, "uniform", "float"),
        ({"min": 0, "max": 0.5}, "uniform", "float"),
    ],
)
def test_distribution_inferred_as_wandb_does(block: dict[str, Any], dist: str, kind: str) -> None:
    spec = space_of(p=block).params["p"]
    assert (spec.distribution, spec.kind) == (dist, kind)


NESTED = {
    "parameters": {
        "optimizer": {
            "parameters": {
                "name": {"values": ["adam", "sgd"]},
                "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
                "betas": {"parameters": {"b1": {"value": 0.9}}},
            }
        },
        "epochs": {"value": 2},
    }
}


def test_nested_parameters_flatten_to_dotted_names() -> None:
    s = SearchSpace.from_sweep_config(NESTED)
    assert s.names == ["optimizer.name", "optimizer.lr", "optimizer.betas.b1", "epochs"]
    assert s.params["optimizer.betas.b1"].path == ["optimizer", "betas", "b1"]
    nested = {"optimizer": {"name": "sgd", "lr": 0.01, "betas": {"b1": 0.9}}, "epochs": 2}
    flat = {"optimizer.name": "sgd", "optimizer.lr": 0.01, "optimizer.betas.b1": 0.9, "epochs": 2}
    assert s.flatten(nested) == flat and s.nest(flat) == nested
    assert flatten_config(nested) == flat
    assert s.validate_config(nested).config == flat
    assert s.validate_config(flat).ok
    assert s.validate_config({"optimizer": {"name": "sgd", "lr": 0.01}, "optimizer.lr": 0.02}).errors == [
        "optimizer.lr: given twice (nested and dotted)"
    ]
    assert s.to_sweep_parameters() == NESTED["parameters"]
    schema = s.json_schema(nested=True)
    assert schema["required"] == ["optimizer", "epochs"]
    assert schema["properties"]["optimizer"]["properties"]["betas"]["required"] == ["b1"]
    assert all(s.validate_config(c).ok for c in s.sample(np.random.default_rng(0), 5))


def test_dict_valued_constant_is_not_flattened() -> None:
    s = space_of(aug={"value": {"flip": True}}, lr={"min": 0.1, "max": 0.2})
    assert s.validate_config({"aug": {"flip": True}, "lr": 0.15}).ok


MALFORMED = [
    ("parameters:\n  learning_rate: {min: 0.1, max: 0.01}", "parameters.learning_rate: 'min' (0.1) must be below 'max' (0.01)"),
    ("parameters:\n  dropout: {distribution: gausian, min: 0, max: 1}", "parameters.dropout: unknown distribution 'gausian'"),
    ("parameters:\n  dropout: {distribution: unifrom, min: 0, max: 1}", "did you mean 'uniform'"),
    ("method: grid\n", "parameters: missing"),
    ("", "empty"),
    ("- a\n- b\n", "expected a sweep config mapping"),
    ("parameters:\n  a: [1, 2\n  b: 3\n", "sweep.yaml:3:4: YAML syntax error"),
    ("parameters: {}\n", "parameters: has no parameters"),
    ("parameters:\n  a: [1, 2]\n", "parameters.a: must be a mapping"),
    ("parameters:\n  a: {valeus: [1, 2]}\n", "parameters.a: unknown key 'valeus' (did you mean 'values'?)"),
    ("parameters:\n  a: {values: []}\n", "parameters.a: 'values' is empty"),
    ("parameters:\n  a: {values: 3}\n", "parameters.a: 'values' must be a list"),
    ("parameters:\n  a: {values: [32, 32.0]}\n", "parameters.a: 'values' lists 32.0 twice"),
    ("parameters:\n  a: {values: [1, 2], probabilities: [1.0]}\n", "parameters.a: 'probabilities' must be a list of 2"),
    ("parameters:\n  a: {values: [1, 2], probabilities: [0.5, 0.6]}\n", "parameters.a: 'probabilities' sum to 1.1"),
    ("parameters:\n  a: {distribution: log_uniform_values, min: 0, max: 1}\n", "parameters.a: 'min' (0) must be > 0"),
    ("parameters:\n  a: {distribution: int_uniform, min: 0.5, max: 3}\n", "parameters.a: int_uniform needs integer"),
    ("parameters:\n  a: {distribution: q_uniform, min: 0, max: 1, q: 0}\n", "parameters.a: 'q' (0) must be > 0"),
    ("parameters:\n  a: {distribution: q_uniform, min: 0.01, max: 0.02, q: 0.1}\n", "parameters.a: no multiple of q"),
    ("parameters:\n  a: {min: 0}\n", "parameters.a: 'max' is missing"),
    ("parameters:\n  a: {distribution: uniform, max: 1}\n", "parameters.a: 'min' is missing"),
    ("parameters:\n  a: {min: low, max: 1}\n", "parameters.a: 'min' must be a number"),
    ("parameters:\n  a: {distribution: uniform, values: [1, 2]}\n", "parameters.a: 'values' does not apply"),
    ("parameters:\n  a: {distribution: normal, sigma: -1}\n", "parameters.a: 'sigma' (-1) must be >= 0"),
    ("parameters:\n  a: {distribution: log_uniform, min: 0, max: 800}\n", "parameters.a: 'min'/'max' are natural-log"),
    ("parameters:\n  a: {}\n", "parameters.a: cannot tell the distribution"),
    ("parameters:\n  a: {distribution: constant}\n", "parameters.a: 'value' is missing"),
    ("parameters:\n  o:\n    parameters: {lr: {min: 1.0, max: 0.5}}\n", "parameters.o.parameters.lr: 'min' (1.0)"),
    ("parameters:\n  o: {parameters: {x: {value: 1}}, values: [1]}\n", "parameters.o: a nested parameter takes only"),
    ("method: bayesian\nparameters: {a: {value: 1}}\n", "method: unknown method 'bayesian'"),
    ("metric: {name: acc, goal: max}\nparameters: {a: {value: 1}}\n", "metric.goal: must be"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_sweep_raises_naming_the_key(text: str, message: str) -> None:
    with pytest.raises(SearchSpaceError) as info:
        SearchSpace.from_yaml_text(text, source="sweep.yaml")
    assert message in str(info.value)
    assert str(info.value).startswith("sweep.yaml")
    assert isinstance(info.value, ValueError)
    assert str(pickle.loads(pickle.dumps(info.value))) == str(info.value)


def test_from_yaml_reads_a_file(tmp_path: Any) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(SWEEP_YAML)
    assert SearchSpace.from_yaml(path).names == list(GOOD)
    with pytest.raises(SearchSpaceError, match="missing.yaml: cannot read"):
        SearchSpace.from_yaml(tmp_path / "missing.yaml")


def test_without_drops_parameters(space: SearchSpace) -> None:
    smaller = space.without("epochs", "batch_size")
    assert smaller.names == [n for n in GOOD if n not in ("epochs", "batch_size")]
    assert space.names == list(GOOD)
    with pytest.raises(SearchSpaceError, match="nope"):
        space.without("nope")


def test_model_round_trips_through_json(space: SearchSpace) -> None:
    assert SearchSpace.model_validate_json(space.model_dump_json()) == space


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
    jsonschema = pytest.importorskip("jsonschema")
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


# ----------------------------------------------------------------------------- sample, grid, round trip


def test_sample_is_valid_reproducible_and_plain(space: SearchSpace, every: SearchSpace) -> None:
    for s in (space, every):
        configs = s.sample(np.random.default_rng(7), 200)
        assert configs == s.sample(np.random.default_rng(7), 200)
        assert all(s.validate_config(c).ok for c in configs)
        json.dumps(configs)
        assert all(type(v) in (int, float, str, bool) for c in configs for v in c.values())


def test_sample_follows_the_distribution() -> None:
    s = space_of(lr={"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
                 c={"values": ["a", "b", "c"], "probabilities": [0.0, 0.2, 0.8]},
                 n={"distribution": "normal", "mu": 5.0, "sigma": 0.1})
    configs = s.sample(np.random.default_rng(0), 4000)
    lrs = np.array([c["lr"] for c in configs])
    assert np.median(lrs) == pytest.approx(1e-3, rel=0.2)  # log-uniform: the median is the geometric mean
    assert (lrs < 1e-4).mean() == pytest.approx(0.25, abs=0.03)
    cs = [c["c"] for c in configs]
    assert "a" not in cs and cs.count("c") / len(cs) == pytest.approx(0.8, abs=0.03)
    assert np.mean([c["n"] for c in configs]) == pytest.approx(5.0, abs=0.01)


def test_grid(space: SearchSpace) -> None:
    assert space.grid_size() is None
    with pytest.raises(SearchSpaceError, match="dropout"):
        space.iter_grid()
    s = space_of(a={"values": ["x", "y"]}, n={"min": 1, "max": 3}, e={"value": 1},
                 q={"distribution": "q_uniform", "min": 0.0, "max": 0.3, "q": 0.1})
    assert s.grid_size() == 2 * 3 * 1 * 4
    grid = list(s.iter_grid())
    assert len(grid) == 24 and len({json.dumps(c) for c in grid}) == 24
    assert grid[0] == {"a": "x", "n": 1, "e": 1, "q": 0.0} and grid[-1] == {"a": "y", "n": 3, "e": 1, "q": 0.3}
    assert all(s.validate_config(c).ok for c in grid)


def test_to_sweep_parameters_round_trips(space: SearchSpace, every: SearchSpace) -> None:
    for s in (space, every, SearchSpace.from_sweep_config(NESTED)):
        again = SearchSpace.from_sweep_config({"parameters": s.to_sweep_parameters()})
        assert again.names == s.names
        for name, spec in s.params.items():
            other = again.params[name]
            assert (other.kind, other.distribution, other.values, other.q) == (spec.kind, spec.distribution, spec.values, spec.q)
            assert other.min == (pytest.approx(spec.min) if spec.min is not None else None)
            assert other.max == (pytest.approx(spec.max) if spec.max is not None else None)
    assert space.to_sweep_parameters()["learning_rate"] == {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-2}
    assert space.to_sweep_config()["metric"] == {"name": "val/acc", "goal": "maximize"}


def test_sweeps_engine_check(space: SearchSpace) -> None:
    pytest.importorskip("sweeps")
    assert validate_with_sweeps_engine(space.to_sweep_config()) is True
    with pytest.raises(SearchSpaceError, match="sweeps engine.*min 0.1 is not less than max 0.01"):
        validate_with_sweeps_engine({"method": "random", "parameters": {"lr": {"min": 0.1, "max": 0.01}}})
    old = {"method": "random", "parameters": {"lr": {"distribution": "log_uniform", "min": -5, "max": -1}}}
    assert validate_with_sweeps_engine(old) is True
    with pytest.raises(SearchSpaceError, match="base-e exponents"):
        validate_with_sweeps_engine(old, allow_deprecated=False)


# ----------------------------------------------------------------------------- properties

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
SPACE = SearchSpace.from_yaml_text(SWEEP_YAML)
EVERY = SearchSpace.from_sweep_config({"parameters": {k: v[0] for k, v in EVERY_DISTRIBUTION.items()}})
NESTED_SPACE = SearchSpace.from_sweep_config(NESTED)


def _targeted(s: SearchSpace) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts over the space's own keys (and nested groups) with arbitrary values."""
    keys = st.sampled_from([*s.names, "optimizer", "extra"])
    return st.dictionaries(keys, json_like | st.floats(-1e6, 1e6) | st.sampled_from(["ADAM", "16", "0.001"]),
                           max_size=len(s.names) + 2)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(config=json_like, which=st.sampled_from([SPACE, EVERY, NESTED_SPACE]))
def test_validate_never_raises(config: Any, which: SearchSpace) -> None:
    result = which.validate_config(config)
    assert result.ok == (not result.errors)
    assert not any("could not be checked" in e for e in result.errors)
    if result.ok:
        json.dumps(result.config)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), which=st.sampled_from([SPACE, EVERY, NESTED_SPACE]))
def test_snap_always_validates(data: st.DataObject, which: SearchSpace) -> None:
    config = data.draw(st.one_of(_targeted(which), st.dictionaries(st.text(max_size=8), json_like, max_size=4)))
    result = which.snap(config)
    check = which.validate_config(result.config)
    assert check.ok, (config, result.config, check.errors)
    json.dumps(result.config)


@settings(max_examples=100)
@given(seed=st.integers(0, 2**32 - 1), which=st.sampled_from([SPACE, EVERY, NESTED_SPACE]))
def test_sample_always_validates(seed: int, which: SearchSpace) -> None:
    for config in which.sample(np.random.default_rng(seed), 5):
        assert which.validate_config(config).ok, config


@st.composite
def numeric_blocks(draw: st.DrawFn) -> dict[str, Any]:
    dist = draw(st.sampled_from(["uniform", "q_uniform", "log_uniform_values", "q_log_uniform_values", "int_uniform",
                                 "inv_log_uniform_values", "normal", "q_normal", "log_normal", "q_log_normal"]))
    if dist in ("normal", "q_normal", "log_normal", "q_log_normal"):
        block: dict[str, Any] = {"distribution": dist, "mu": draw(st.floats(-5, 5)), "sigma": draw(st.floats(0, 3))}
    elif dist == "int_uniform":
        lo = draw(st.integers(-1000, 1000))
        block = {"distribution": dist, "min": lo, "max": lo + draw(st.integers(1, 1000))}
    else:
        positive = "log" in dist
        lo = draw(st.floats(1e-6, 1e3) if positive else st.floats(-1e3, 1e3))
        block = {"distribution": dist, "min": lo, "max": lo * draw(st.floats(1.01, 1e3)) if positive else lo + draw(st.floats(0.01, 1e3))}
    if dist.startswith("q_"):
        block["q"] = draw(st.sampled_from([1, 2, 8, 0.1, 0.25, 0.001]))
    return block


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(block=numeric_blocks(), seed=st.integers(0, 2**16), value=st.floats(allow_nan=True) | st.integers())
def test_random_numeric_spaces_sample_and_snap_validly(block: dict[str, Any], seed: int, value: Any) -> None:
    try:
        s = space_of(p=block)
    except SearchSpaceError:
        return  # e.g. no multiple of q inside a narrow range: refused at parse time
    for config in [*s.sample(np.random.default_rng(seed), 3), s.snap({"p": value}).config, s.snap({}).config]:
        assert s.validate_config(config).ok, (block, config, s.validate_config(config).errors)
