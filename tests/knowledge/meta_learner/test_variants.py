"""The meta-learner's variants (variants.py): the portfolio for N > 1 recommendations, a ranking
objective, derived meta-features, and the chosen settings stored with the model (real xgboost)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from metallmix_wandb.knowledge.meta_learner.model import MetaLearner
from metallmix_wandb.knowledge.meta_learner.variants import (
    DEFAULT,
    VARIANTS,
    dataset_distances,
    derive_meta,
    greedy_cover,
    locality_weights,
    relevance,
)
from tests.support import synthetic


@pytest.fixture(scope="module")
def synth() -> synthetic.Synthetic:
    return synthetic.experiments(n_datasets=6, runs_per_dataset=25, seed=1)


def test_greedy_cover_adds_the_config_that_covers_a_dataset_the_first_misses() -> None:
    target = np.array([0.9, 0.85, 0.5])
    per = np.array([[1.0, 0.2], [0.95, 0.3], [0.1, 1.0]])  # 0 and 1 are alike; 2 is best on dataset 2
    assert greedy_cover(target, per, np.ones(2), 2) == [0, 2]  # top-N by target would be [0, 1]
    assert greedy_cover(target, per, np.array([1.0, 0.0]), 2) == [0, 1]  # dataset 2 weighs nothing
    assert greedy_cover(target, per, np.ones(2), 1, shrink=1.0) == [1]  # the best mean over past datasets


def test_distances_and_weights_shrink_to_uniform_when_far() -> None:
    datasets = np.array([[100.0, 2.0], [1000.0, 2.0], [100000.0, np.nan]])
    d = dataset_distances(np.array([120.0, 2.0]), datasets, np.array([True, False]))
    assert d[0] < d[1] < d[2]
    w = locality_weights(d, 0.5, 1.0)
    assert w[0] > w[1] > w[2] >= 0.5 and locality_weights(np.array([np.nan]), 0.5, 1.0)[0] == 0.5


def test_relevance_and_derived_meta() -> None:
    assert relevance(np.array([0.0, 0.5, 1.0]), 16).tolist() == [0.0, 8.0, 15.0]
    meta = derive_meta({"n_instances": 1000.0, "n_classes": 4.0, "n_features": 20.0})
    assert (meta["instances_per_class"], meta["features_per_instance"], meta["log10_instances"]) == (250.0, 0.02, 3.0)
    assert derive_meta({})["meta_missing"] == 6.0


def test_the_default_portfolio_keeps_the_one_shot_answer_and_survives_save_load(synth: synthetic.Synthetic,
                                                                                  tmp_path: Path) -> None:
    learner = MetaLearner.fit(synth.experiments, synth.space, n_jobs=1, max_folds=2)
    assert learner.info.settings.variant == DEFAULT.variant and DEFAULT.portfolio
    assert learner.info.settings == DEFAULT.model_copy(update={"untried": learner.info.settings.untried})
    assert len(learner.info.dataset_meta) == 6
    meta = synthetic.dataset_meta(np.random.default_rng(7))
    picks = learner.recommend_n(meta, synth.space, 3)
    assert len({str(sorted(p.items())) for p in picks}) == 3
    assert picks[0] == learner.best_config(meta, synth.space).config
    learner.save(tmp_path)
    loaded = MetaLearner.load(tmp_path)
    assert loaded.info.settings == learner.info.settings and loaded.recommend_n(meta, synth.space, 3) == picks
    plain = loaded.info.settings.model_copy(update={"portfolio": False})  # the same order, no portfolio
    top = MetaLearner(loaded.info.model_copy(update={"settings": plain}), loaded.boosters)
    top.smooth = loaded.smooth
    assert top.recommend_n(meta, synth.space, 3) == [c for c, _ in loaded.ranked_configs(meta, synth.space, n=3)]


def test_a_ranking_variant_orders_candidates_with_its_own_booster(synth: synthetic.Synthetic, tmp_path: Path) -> None:
    learner = MetaLearner.fit(synth.experiments, synth.space, n_jobs=1, max_folds=2, settings=VARIANTS["ndcg"])
    assert "order" in learner.boosters and learner.info.quality.spearman is not None
    assert learner.info.quality.spearman > 0.3  # the synthetic structure is learnable
    files = learner.save(tmp_path)
    assert "model_order.ubj" in files
    loaded = MetaLearner.load(tmp_path)
    meta = synthetic.dataset_meta(np.random.default_rng(3))
    assert loaded.best_config(meta, synth.space).config == learner.best_config(meta, synth.space).config
    derived = MetaLearner.fit(synth.experiments, synth.space, n_jobs=1, settings=VARIANTS["derived"], lite=True)
    assert derived.layout.derived_meta and "meta/instances_per_class" in derived.layout.names


def test_the_median_objective_prefers_the_config_best_on_most_datasets_to_the_safe_second() -> None:
    """Config `a` is the best on 3 of 5 datasets and the worst on 2; `b` is second or best everywhere:
    `b` has the higher mean percentile, `a` the higher median and more top answers. The median variant
    orders by the median, the top variant by the chance of a top answer."""
    from metallmix_wandb.knowledge.records import Experiment
    from metallmix_wandb.space.search_space import SearchSpace

    names = list("abcdefghij")
    space = SearchSpace.from_sweep_config({"parameters": {"x": {"values": names}}})
    rng = np.random.default_rng(0)
    exps = []
    for d in range(5):
        for copy in range(2):
            for x in names:
                acc = {"a": 1.0 if d < 3 else 0.0, "b": 0.9}.get(x, float(rng.uniform(0.1, 0.8)))
                exps.append(Experiment(run_path=f"p/{d}/{copy}/{x}", run_id=f"{d}{copy}{x}", dataset=f"d{d}",
                                       config={"x": x}, meta_features={"n_instances": 1000.0},
                                       summary={"val/acc": acc}, train_time_s=1.0))
    meta = {"n_instances": 1000.0}
    mean = MetaLearner.fit(exps, space, metric="val/acc", n_jobs=1, settings=VARIANTS["percentile"], lite=True)
    median = MetaLearner.fit(exps, space, metric="val/acc", n_jobs=1, settings=VARIANTS["median"], lite=True)
    assert mean.recommend_n(meta, space, 1)[0]["x"] == "b"
    assert "order" in median.boosters and median.recommend_n(meta, space, 1)[0]["x"] == "a"
    # `top` (P(percentile >= 0.9)): `a` is a hit on 3 datasets, `b` (second, 0.889, on three) on 2
    top = MetaLearner.fit(exps, space, metric="val/acc", n_jobs=1, settings=VARIANTS["top"], lite=True)
    assert "order" in top.boosters and top.recommend_n(meta, space, 1)[0]["x"] == "a"
