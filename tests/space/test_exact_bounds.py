"""Values a hair outside the space (round-off past a bound, near-multiples of q) are accepted only
after being moved exactly inside it; `snap` records the move (issue 16, item 6)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metallmix_wandb.space.search_space import SearchSpace, SearchSpaceError
from metallmix_wandb.space.spec import ParamSpec
from metallmix_wandb.space.values import discrete_values
from tests.support.spaces import space_of


def _exactly_inside(spec: ParamSpec, v: Any) -> bool:
    if spec.min is not None and v < spec.min or spec.max is not None and v > spec.max:
        return False
    grid = discrete_values(spec)
    if not spec.q or grid is None:
        return True
    j = round((v - grid[0]) / spec.q)
    return 0 <= j < len(grid) and v == grid[j]


@st.composite
def bounded_blocks(draw: st.DrawFn) -> dict[str, Any]:
    dist = draw(st.sampled_from(["uniform", "q_uniform", "log_uniform_values", "q_log_uniform_values",
                                 "int_uniform", "inv_log_uniform_values", "q_uniform"]))
    if dist == "int_uniform":
        lo = draw(st.integers(-1000, 1000))
        return {"distribution": dist, "min": lo, "max": lo + draw(st.integers(1, 1000))}
    lo = draw(st.sampled_from([0.0, 0.05, 0.1, 0.3, 1e-5, 8.0]) | st.floats(1e-4, 1e2))
    lo = max(lo, 1e-6) if "log" in dist else lo
    block = {"distribution": dist, "min": lo, "max": lo + draw(st.sampled_from([0.5, 0.45, 0.2, 504.0]) |
                                                                st.floats(0.01, 1e3))}
    if dist.startswith("q_"):
        block["q"] = draw(st.sampled_from([0.1, 0.05, 0.001, 0.25, 8, 1, 1 / 3]))
    return block


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(block=bounded_blocks(), data=st.data())
def test_boundary_mutations_validate_only_exactly_inside(block: dict[str, Any], data: st.DataObject) -> None:
    try:
        s = space_of(p=block)
    except SearchSpaceError:
        return
    spec = s.params["p"]
    grid = discrete_values(spec)
    anchors = [spec.min, spec.max]
    if grid is not None and len(grid) > 2:
        anchors += [grid[1], grid[len(grid) - 2]]
    base = data.draw(st.sampled_from(anchors))
    rel = data.draw(st.floats(-3e-12, 3e-12))
    off = data.draw(st.floats(-2e-6, 2e-6)) * spec.q if spec.q else 0.0
    value = base * (1 + rel) + off
    result = s.validate_config({"p": value})
    if result.ok:
        assert _exactly_inside(spec, result.config["p"]), (block, value, result.config)
    snapped = s.snap({"p": value})
    assert _exactly_inside(spec, snapped.config["p"]), (block, value, snapped.config)
    if snapped.config["p"] != value:
        assert [c.name for c in snapped.changes] == ["p"]


def test_a_hair_above_the_maximum_is_clamped_and_the_snap_says_so() -> None:
    s = SearchSpace.from_sweep_config({"parameters": {"dropout": {"min": 0.0, "max": 0.5}}})
    assert s.validate_config({"dropout": 0.5000000000005}).config == {"dropout": 0.5}
    snapped = s.snap({"dropout": 0.5000000000005})
    assert snapped.config == {"dropout": 0.5}
    assert snapped.changes[0].before == 0.5000000000005 and snapped.changes[0].after == 0.5


def test_a_near_multiple_of_q_lands_on_the_grid() -> None:
    s = SearchSpace.from_sweep_config({"parameters": {"p": {"distribution": "q_uniform", "min": 0, "max": 1,
                                                            "q": 0.1}}})
    assert s.validate_config({"p": 0.3 + 5e-8}).config == {"p": 0.3}
    assert s.validate_config({"p": 0.30000000000000004}).config == {"p": 0.3}
    assert not s.validate_config({"p": 0.3 + 1e-6}).ok  # past the tolerance: rejected, as before
