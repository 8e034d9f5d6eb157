"""The TCS across trials (best-so-far, one-change pairs, value averages), Pareto front and config keys."""

from __future__ import annotations

import pytest

from metallmix_wandb.tune.digest import best_so_far, digest_trials, one_change_pairs, value_effects
from metallmix_wandb.tune.objective import TimePolicy, TimeScale, allowed, utility
from metallmix_wandb.tune.records import (
    Proposal,
    TrialResult,
    TuneTrial,
    best_trial,
    config_key,
    pareto_front,
    reached,
)

BASE = {"model": "resnet18", "lr": 0.001, "dropout": 0.2}


def trial(n: int, metric: float | None, secs: float | None = 10.0, **change) -> TuneTrial:
    config = {**BASE, **change}
    result = TrialResult(config=config, metric=metric, train_time_s=secs,
                         status="finished" if metric is not None else "crashed")
    return TuneTrial(number=n, proposal=Proposal(config=config, source="test"), result=result)


def test_best_so_far_skips_crashes_and_never_falls() -> None:
    trials = [trial(1, None), trial(2, 0.7, lr=0.01), trial(3, 0.6, lr=0.1), trial(4, 0.8, dropout=0.5)]
    assert best_so_far(trials) == [None, 0.7, 0.7, 0.8]
    assert best_so_far(trials, "minimize") == [None, 0.7, 0.6, 0.6]
    assert best_trial(trials).number == 4


def test_one_change_pairs_name_the_parameter_and_outcome() -> None:
    trials = [trial(1, 0.7), trial(2, 0.75, lr=0.01), trial(3, None, lr=0.1), trial(4, 0.6, lr=0.01, dropout=0.5)]
    pairs = {(c.before_trial, c.after_trial): c for c in one_change_pairs(trials)}
    assert set(pairs) == {(1, 2), (1, 3), (2, 3), (2, 4)}  # 1-4 changed two parameters; 3-4 too
    assert pairs[(1, 2)].parameter == "lr" and pairs[(1, 2)].outcome == "helped"
    assert pairs[(1, 2)].delta == pytest.approx(0.05) and (pairs[(1, 2)].before, pairs[(1, 2)].after) == (0.001, 0.01)
    assert pairs[(1, 3)].outcome == "crashed" and pairs[(1, 3)].delta is None
    assert pairs[(2, 4)].parameter == "dropout" and pairs[(2, 4)].outcome == "hurt"
    assert one_change_pairs([trial(1, None), trial(2, 0.5, lr=0.01)])[0].outcome == "recovered"


def test_numbers_compare_by_value() -> None:
    assert one_change_pairs([trial(1, 0.5, lr=0.001), trial(2, 0.5, lr=1e-3, dropout=0.3)])[0].parameter == "dropout"
    assert config_key({"a": 64, "b": 0.001}) == config_key({"b": 1e-3, "a": 64.0})
    assert config_key({"a": 64}) != config_key({"a": 32})


def test_value_effects_are_mean_differences() -> None:
    trials = [trial(1, 0.6), trial(2, 0.8, model="vit", lr=0.01), trial(3, 0.7, lr=0.01), trial(4, None, model="vit")]
    effects = {(e.parameter, e.value): e for e in value_effects(trials)}
    assert effects[("model", "vit")].delta == pytest.approx(0.8 - 0.65) and effects[("model", "vit")].trials == 1
    assert effects[("lr", 0.01)].mean == pytest.approx(0.75) and effects[("lr", 0.001)].delta == pytest.approx(-0.15)
    assert ("dropout", 0.2) not in effects  # never varied


def test_digest_collects_everything() -> None:
    d = digest_trials([trial(1, 0.6), trial(2, None, lr=0.1)], params=["model", "lr", "dropout"])
    assert d.best_trial == 1 and d.best_value == 0.6 and d.crashed == [2] and d.best_so_far == [0.6, 0.6]
    assert [c.outcome for c in d.one_change] == ["crashed"] and d.value_effects == []


def test_pareto_front_metric_against_time() -> None:
    trials = [trial(1, 0.8, 100.0), trial(2, 0.7, 10.0, lr=0.01), trial(3, 0.6, 50.0, lr=0.1),
              trial(4, 0.8, 120.0, dropout=0.5), trial(5, None, 1.0, model="x"), trial(6, 0.85, 300.0, model="y")]
    assert pareto_front(trials) == [2, 1, 6]  # fastest first; 3 and 4 are dominated; crashes never count
    assert pareto_front([]) == []


def test_target() -> None:
    assert reached(0.8, 0.81, "maximize") and not reached(0.8, 0.79, "maximize")
    assert reached(0.2, 0.1, "minimize") and not reached(None, 0.9, "maximize") and not reached(0.5, None, "maximize")


def test_time_policy() -> None:
    import numpy as np

    score, secs = np.array([0.9, 0.8, 0.5]), np.array([1000.0, 100.0, 10.0])
    scale = TimeScale.of(secs)
    assert list(np.argsort(-utility(score, secs, TimePolicy(), scale))) == [0, 1, 2]
    u = utility(score, secs, TimePolicy(objective="time"), scale)
    assert u[0] == pytest.approx(0.9 - 0.5) and u[2] == pytest.approx(0.5) and np.argmax(u) == 1
    assert list(allowed(secs, TimePolicy(max_train_time_s=200))) == [False, True, True]
    assert list(utility(score, secs, TimePolicy(goal="minimize"), scale)) == [-0.9, -0.8, -0.5]
    assert TimeScale.of(np.array([5.0, 5.0])).normalise(np.array([5.0])).tolist() == [0.0]
