"""A synthetic lookup table for tune tests: a held-out synthetic dataset whose every config has a
result (tests/support/synthetic.py's known structure + seeded noise), and the meta-learner fitted on
the other datasets. Import `synth` and `Lookup` into a test module."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from metallmix_wandb.knowledge.meta_learner.model import MetaLearner
from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.tune.records import TrialResult, config_key
from tests.support.synthetic import experiments, train_time, true_acc


class Lookup:
    """A table of results for one held-out dataset: every config of the space, seeded noise."""

    def __init__(self, meta: dict, space: SearchSpace, crash: Callable[[dict], bool] = lambda c: False) -> None:
        rng = np.random.default_rng(7)
        self.rows = {config_key(c): (float(true_acc(meta, c) + rng.normal(0, 0.01)), train_time(meta, c))
                     for c in space.iter_grid()}
        self.crash, self.calls = crash, []
        accs = np.sort([v[0] for v in self.rows.values()])
        self.percentile = lambda acc: float(np.searchsorted(accs, acc, side="right") / len(accs))

    def __call__(self, config: dict) -> TrialResult:
        self.calls.append(config)
        acc, secs = self.rows[config_key(config)]
        if self.crash(config):
            return TrialResult(config=config, status="crashed", error="NaN loss at epoch 0")
        history = [{"epoch": e, "val/acc": acc - 0.02 * (2 - e), "train/acc": acc + 0.01 * e} for e in range(3)]
        return TrialResult(config=config, metric=acc, train_time_s=secs, history=history)


@pytest.fixture(scope="module")
def synth() -> dict:
    syn = experiments(n_datasets=6, runs_per_dataset=20, seed=1)
    held = min(syn.metas)
    base = [e for e in syn.experiments if e.dataset != held]
    learner = MetaLearner.fit(base, syn.space, max_folds=2)
    return {"space": syn.space, "meta": syn.metas[held], "base": base, "learner": learner}
