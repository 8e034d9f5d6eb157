"""The logged pool (pool.py): a one-shot choice among the configs the runs tried, scored by the
prediction blended with their observed percentile (real xgboost on the synthetic runs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from metallmix_wandb.knowledge.meta_learner.model import MetaLearner
from metallmix_wandb.knowledge.meta_learner.pool import blend, config_key, logged_pool
from metallmix_wandb.knowledge.meta_learner.variants import VARIANTS
from tests.support import synthetic


@pytest.fixture(scope="module")
def synth() -> synthetic.Synthetic:
    return synthetic.experiments(n_datasets=6, runs_per_dataset=25, seed=1)


def test_observed_percentile_is_averaged_within_then_across_datasets() -> None:
    a, b = {"lr": 0.1, "depth": 2}, {"lr": 0.01, "depth": 2}
    pool = logged_pool([a, dict(a), a, b], ["d1", "d1", "d2", "d1"], np.array([0.2, 0.4, 1.0, 0.0]))
    assert pool.configs == [a, b]
    assert pool.observed == pytest.approx([0.65, 0.0])  # mean(mean(0.2, 0.4), 1.0): d1's two runs count once
    assert blend(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 0.25).tolist() == [0.75, 0.25]


def test_a_logged_pool_chooses_among_the_runs_configs_and_survives_save_load(synth: synthetic.Synthetic,
                                                                             tmp_path: Path) -> None:
    space = synth.space
    tried = {config_key({p: space.flatten(e.config)[p] for p in space.tunable}) for e in synth.experiments}
    meta = synthetic.dataset_meta(np.random.default_rng(1234))  # a dataset no run has seen
    learner = MetaLearner.fit(synth.experiments, space, n_jobs=1, max_folds=2, settings=VARIANTS["logged-blend"])
    assert len(learner.info.logged.configs) == len(tried)
    best = learner.best_config(meta, space)
    assert best.method == "logged" and space.validate_config(best.config).ok
    assert config_key({p: best.config[p] for p in space.tunable}) in tried
    picks = learner.recommend_n(meta, space, 3)
    assert picks[0] == best.config and len({config_key(p) for p in picks}) == 3
    learner.save(tmp_path)
    loaded = MetaLearner.load(tmp_path)
    assert loaded.info.logged == learner.info.logged and "among logged configs" in loaded.info.settings.line()
    assert loaded.best_config(meta, space).config == best.config


def test_full_evidence_is_the_config_best_on_average_and_the_space_argmax_is_another(
        synth: synthetic.Synthetic) -> None:
    space = synth.space
    meta = synthetic.dataset_meta(np.random.default_rng(1234))
    mean = MetaLearner.fit(synth.experiments, space, n_jobs=1, settings=VARIANTS["logged-mean"], lite=True)
    top = int(np.argmax(mean.info.logged.observed))
    chosen = mean.recommend_n(meta, space, 1)[0]  # a lite fit: best_config's prediction needs a full one
    assert {p: chosen[p] for p in space.tunable} == mean.info.logged.configs[top]
    argmax = MetaLearner.fit(synth.experiments, space, n_jobs=1, settings=VARIANTS["percentile"], lite=True)
    assert not argmax.info.logged.configs
    assert {p: argmax.recommend_n(meta, space, 1)[0][p] for p in space.tunable} not in mean.info.logged.configs
