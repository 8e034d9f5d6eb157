"""SearchSpace: parsing W&B sweep YAML (every distribution), sampling, grids, the round trip back."""

from __future__ import annotations

import json
import pickle
from typing import Any

import numpy as np
import pytest

from metallmix_wandb.space.search_space import (
    DISTRIBUTIONS,
    SearchSpace,
    SearchSpaceError,
    flatten_config,
)
from tests.support.spaces import EVERY_DISTRIBUTION, GOOD, NESTED, SWEEP_YAML, space_of
from tests.support.sweeps_engine import validate_with_sweeps_engine
from tests.support.require import require_module


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
    require_module("sweeps")
    assert validate_with_sweeps_engine(space.to_sweep_config()) is True
    with pytest.raises(SearchSpaceError, match="sweeps engine.*min 0.1 is not less than max 0.01"):
        validate_with_sweeps_engine({"method": "random", "parameters": {"lr": {"min": 0.1, "max": 0.01}}})
    old = {"method": "random", "parameters": {"lr": {"distribution": "log_uniform", "min": -5, "max": -1}}}
    assert validate_with_sweeps_engine(old) is True
    with pytest.raises(SearchSpaceError, match="base-e exponents"):
        validate_with_sweeps_engine(old, allow_deprecated=False)


def test_the_sweep_description_is_kept_as_the_project_task() -> None:
    """The prompts name the project's task from it (recommend/prompts.py::task_of); the knowledge
    artifact stores the space as a sweep config, so it must survive that round trip and `without`."""
    text = "description: Tabular churn prediction.\nparameters:\n  lr: {values: [0.1, 0.01]}\n  dataset: {value: x}\n"
    s = SearchSpace.from_yaml_text(text)
    assert s.description == "Tabular churn prediction."
    assert SearchSpace.from_sweep_config(s.to_sweep_config()).description == "Tabular churn prediction."
    assert s.without("dataset").description == "Tabular churn prediction."
    assert SearchSpace.from_yaml_text("parameters:\n  lr: {values: [0.1]}\n").description is None
    with pytest.raises(SearchSpaceError, match="description"):
        SearchSpace.from_yaml_text("description: [1, 2]\nparameters:\n  lr: {values: [0.1]}\n")
