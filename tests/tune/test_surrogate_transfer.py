"""The tune surrogate with the default meta-learner (`transfer-blend`): after a refit the per-dataset
surfaces are re-weighted by how well each orders this dataset's trials (TransferGP.adapt), and the
next trial follows them (real xgboost, real GP arithmetic, no fakes)."""

from __future__ import annotations

import numpy as np

from metallmix_wandb.knowledge.meta_learner.model import MetaLearner
from metallmix_wandb.knowledge.meta_learner.transfer import TransferGP
from metallmix_wandb.knowledge.meta_learner.variants import VARIANTS
from metallmix_wandb.knowledge.records import Experiment
from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.tune.objective import TimePolicy
from metallmix_wandb.tune.records import Proposal, TrialResult, TuneTrial, config_key
from metallmix_wandb.tune.surrogate import Surrogate, best_untried

GRID = [round(float(v), 2) for v in np.linspace(0.0, 1.0, 51)]
SIZES = (100.0, 200.0, 10_000.0, 20_000.0)


def _acc(n_instances: float, x: float, peak: float | None = None) -> float:
    """Small datasets are best at x = 0.2, large ones at 0.8 (unless `peak` says otherwise)."""
    return 0.9 - abs(x - (peak if peak is not None else 0.2 if n_instances < 1000 else 0.8))


def _learner() -> tuple[MetaLearner, list[Experiment], SearchSpace]:
    space = SearchSpace.from_sweep_config({"parameters": {"x": {"values": GRID}}})
    rng = np.random.default_rng(0)
    exps = [Experiment(run_path=f"p/d{g}/{i:03d}", run_id=f"{g}-{i}", dataset=f"d{g}", config={"x": x},
                       meta_features={"n_instances": n}, summary={"val/acc": _acc(n, x) + rng.normal(0, 0.005)},
                       train_time_s=1.0)
            for g, n in enumerate(SIZES) for i, x in enumerate(rng.choice(GRID, 12, replace=False).tolist())]
    learner = MetaLearner.fit(exps, space, metric="val/acc", n_jobs=1, max_folds=2,
                              settings=VARIANTS["transfer-blend"])
    return learner, exps, space


def test_a_refit_reweighs_the_surfaces_by_the_trials_and_the_next_trial_follows() -> None:
    """A new dataset that looks small but behaves like the large ones: the stored learner proposes near
    0.2; once trials show the peak at 0.8, the refitted surrogate's surfaces lean to the large datasets
    and its next trial is near 0.8."""
    learner, exps, space = _learner()
    assert isinstance(learner.smooth, TransferGP)
    meta = {"n_instances": 150.0}
    before, _ = best_untried(learner, meta, space, set(), TimePolicy())
    assert before is not None and abs(before.config["x"] - 0.2) <= 0.1
    trials = [TuneTrial(number=i + 1, proposal=Proposal(config={"x": x}, source="surrogate"),
                        result=TrialResult(config={"x": x}, metric=_acc(150.0, x, peak=0.8), train_time_s=1.0))
              for i, x in enumerate([0.2, 0.4, 0.0, 0.6])]
    refitted = Surrogate(learner, exps, "val/acc", space=space).refit(meta, trials)
    assert isinstance(refitted.smooth, TransferGP) and refitted.smooth.fixed is not None
    large = [g for g, n in enumerate(SIZES) if n > 1000]
    assert refitted.smooth.fixed[large].sum() > 0.5
    tried = {config_key(t.result.config) for t in trials}
    after, _ = best_untried(refitted, meta, space, tried, TimePolicy())
    assert after is not None and abs(after.config["x"] - 0.8) <= 0.1 and after.covering
    # the cover's gains assume the metric rises with the percentile: a minimised metric, and the time
    # objective, keep the first by utility
    for policy in (TimePolicy(goal="minimize"), TimePolicy(objective="time")):
        other, _ = best_untried(refitted, meta, space, tried, policy)
        assert other is not None and not other.covering
