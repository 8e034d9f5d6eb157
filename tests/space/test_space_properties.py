"""Property tests: validate never raises, snap and sample always give valid configs, on any input."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metallmix_wandb.space.search_space import SearchSpace, SearchSpaceError
from tests.support.spaces import EVERY_DISTRIBUTION, NESTED, SWEEP_YAML, space_of


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
