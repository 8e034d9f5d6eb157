"""The one argmax search (space/argmax.py): grid or seeded sample, refined around the best so far or
around given configs, with a scoring callback over batches of candidates."""

from __future__ import annotations

import math

import numpy as np

from metallmix_wandb.space.argmax import KEEP, REFINE_SCALES, Found, concat, search
from metallmix_wandb.space.candidates import Choices, pick
from tests.support.synthetic import space as synthetic_space


def _lr_score(choices: Choices, n: int) -> np.ndarray:
    """Best at learning_rate 1e-3 (a smooth peak in log space), whatever else the config holds."""
    values, idx = choices["learning_rate"]
    lr = np.array([values[i] for i in idx], dtype=np.float64)
    return -((np.log10(lr) + 3.0) ** 2)


class Counting:
    def __init__(self) -> None:
        self.batches: list[int] = []

    def __call__(self, choices: Choices, n: int) -> np.ndarray:
        self.batches.append(n)
        return _lr_score(choices, n)


def test_a_small_discrete_space_is_scored_whole() -> None:
    space = synthetic_space().without("dataset")
    params = list(space.tunable)
    score = Counting()
    found = search(space, params, score, n_samples=50, seed=0)
    assert found.method == "grid" and found.n == 4 * 3 * 4 * 3 * 4 and score.batches == [found.n]
    assert found.best()["learning_rate"] == 0.001 and found.best() == found.config(int(np.argmax(found.scores)))


def test_a_grid_over_max_grid_is_sampled_and_refined_around_the_best_so_far() -> None:
    space = synthetic_space().without("dataset")
    score = Counting()
    found = search(space, list(space.tunable), score, n_samples=200, seed=0, max_grid=100)
    per_round = KEEP * max(1, 200 // (2 * KEEP))
    assert found.method == "sample" and score.batches == [200] + [per_round] * len(REFINE_SCALES)
    assert found.n == len(found.scores) == 200 + per_round * len(REFINE_SCALES)


def test_refinement_finds_a_better_config_than_the_sample_alone_and_is_seeded() -> None:
    space = synthetic_space(continuous=True)
    params = list(space.tunable)
    found = search(space, params, _lr_score, n_samples=30, seed=1)
    assert found.method == "sample"
    assert found.scores.max() > found.scores[:30].max()  # a neighbour beat every sampled config
    assert math.isclose(found.best()["learning_rate"], 1e-3, rel_tol=0.5)
    again = search(space, params, _lr_score, n_samples=30, seed=1)
    assert again.best() == found.best() and np.array_equal(again.scores, found.scores)
    assert search(space, params, _lr_score, n_samples=30, seed=2).best() != found.best()


def test_around_given_configs_the_whole_pool_is_scored_once() -> None:
    space = synthetic_space(continuous=True)
    params = list(space.tunable)
    seeds = [{"learning_rate": 0.05, "dropout": 0.1, "batch_size": 16, "base_model": "resnet50",
              "fine_tuning": "full", "epochs": 10}]
    score = Counting()
    found = search(space, params, score, n_samples=100, seed=0, around=seeds, divisor=10)
    assert score.batches == [found.n] and found.n == 100 + 10 * len(REFINE_SCALES)
    near = [found.config(i)["learning_rate"] for i in range(100, found.n)]
    assert all(abs(math.log10(v) - math.log10(0.05)) < 1.0 for v in near)  # neighbours of the seed
    alone = Counting()
    assert search(space, params, alone, n_samples=100, seed=0, around=()).n == 100 and alone.batches == [100]


def test_concat_shifts_the_second_batch_indices() -> None:
    a: Choices = {"x": (["p", "q"], np.array([1, 0]))}
    b: Choices = {"x": (["r"], np.array([0, 0]))}
    both, n = concat(a, 2, b, 2)
    assert n == 4 and [pick(both, i)["x"] for i in range(n)] == ["q", "p", "r", "r"]
    found = Found(both, n, np.array([0.1, 0.5, 0.5, 0.2]), "sample")
    assert found.best() == {"x": "p"}  # the first of equals
