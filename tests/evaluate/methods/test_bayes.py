"""Bayesian optimisation (scikit-optimize gp_minimize) over a SearchSpace: reproducible under a seed."""

from __future__ import annotations

from metallmix_wandb.evaluate.methods.bayes import bayes_search
from metallmix_wandb.space.search_space import SearchSpace

SPACE = SearchSpace.from_sweep_config({"parameters": {
    "op": {"values": ["conv", "pool", "skip"]}, "width": {"values": [16, 32, 64, 128]},
    "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1}, "epochs": {"value": 3}}})


def objective(c: dict) -> float:
    return {"conv": 1.0, "pool": 0.5, "skip": 0.0}[c["op"]] + c["width"] / 128 - abs(c["lr"] - 0.01)


def test_bo_is_reproducible_and_stays_in_the_space() -> None:
    one = bayes_search(SPACE, objective, budget=5, seed=7, n_initial_points=3)  # 2 GP-guided steps
    two = bayes_search(SPACE, objective, budget=5, seed=7, n_initial_points=3)
    assert one.configs == two.configs and one.values == two.values
    assert len(one.configs) == 5
    assert all(SPACE.validate_config(c).ok for c in one.configs)
    assert one.values[one.best_index] == max(one.values)
    assert bayes_search(SPACE, objective, budget=3, seed=8).configs != one.configs[:3]
