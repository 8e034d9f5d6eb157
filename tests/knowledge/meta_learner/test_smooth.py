"""The smooth surrogate (smooth.py): a Gaussian process kept as plain arrays and predicted in numpy,
fitted with scikit-optimize's GaussianProcessRegressor; and the `smooth` variants that blend it into the
meta-learner's order of candidates (real xgboost, real scikit-learn)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from metallmix_wandb.knowledge.meta_learner.model import SMOOTH_FILE, TRANSFER_FILE, MetaLearner
from metallmix_wandb.knowledge.meta_learner.smooth import SmoothGP, fit_smooth
from metallmix_wandb.knowledge.meta_learner.variants import VARIANTS
from tests.support import synthetic


def _toy(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 4))
    X[:, 1] = 10 ** rng.uniform(-4, -1, n)  # a learning rate: log scale
    X[:, 3] = 1.0  # never varies: dropped
    y = np.sin(3 * X[:, 0]) + 0.1 * np.log10(X[:, 1]) + rng.normal(0, 0.05, n)
    return X, y


LOG = np.array([False, True, False, False])


@pytest.fixture(scope="module")
def gp() -> SmoothGP:
    X, y = _toy(200)
    return fit_smooth(X, y, LOG)


def test_the_numpy_prediction_equals_scikit_learns(gp: SmoothGP) -> None:
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
    from skopt.learning import GaussianProcessRegressor

    assert gp.keep.tolist() == [True, True, True, False]
    kernel = (ConstantKernel(gp.constant, "fixed") * Matern(gp.length, "fixed", nu=2.5)
              + WhiteKernel(gp.noise, "fixed"))
    X, y = _toy(200)
    reference = GaussianProcessRegressor(kernel=kernel, normalize_y=True, optimizer=None).fit(gp.scale(X), y)
    Xs, _ = _toy(50, seed=1)
    mean, std = reference.predict(gp.scale(Xs), return_std=True)
    ours_mean, ours_std = gp.predict(Xs)
    np.testing.assert_allclose(ours_mean, mean, atol=1e-8)
    np.testing.assert_allclose(ours_std, std, atol=1e-6)
    # the fit learned the structure: x0 matters (a short length scale), the fit is close on held-out points
    assert float(np.corrcoef(ours_mean, np.sin(3 * Xs[:, 0]) + 0.1 * np.log10(Xs[:, 1]))[0, 1]) > 0.9


def test_the_score_is_exact_at_the_top_when_std_is_computed_for_part_of_the_candidates(gp: SmoothGP) -> None:
    X, _ = _toy(3000, seed=2)
    mean, std = gp.predict(X)
    full = mean - gp.kappa * std
    part = gp.score(X, exact=200)
    top = np.argsort(-full)[:25]
    assert np.argsort(-part)[:25].tolist() == top.tolist()
    np.testing.assert_allclose(part[top], full[top], atol=1e-9)
    assert (part <= full + 1e-9).all()  # elsewhere a lower bound
    offset = np.linspace(0, 1, len(X))
    blended = gp.score(X, offset, weight=0.5, exact=len(X))
    np.testing.assert_allclose(blended, 0.5 * offset + 0.5 * full, atol=1e-9)


def test_the_lower_bound_prefers_the_config_the_runs_support(gp: SmoothGP) -> None:
    """Far from every run the mean returns to the prior and the std grows: kappa > 0 ranks it lower."""
    near, _ = _toy(1, seed=3)
    far = near.copy()
    far[0, 2] = 50.0  # far outside the runs' range of x2
    both = np.vstack([near, far])
    _, std = gp.predict(both)
    assert std[1] > std[0]
    cautious = SmoothGP(**{**gp.__dict__, "kappa": 2.0, "_chol": None, "_alpha": None})
    assert (cautious.score(both) - gp.score(both))[1] < (cautious.score(both) - gp.score(both))[0]


def test_save_and_load_keep_plain_arrays(gp: SmoothGP, tmp_path: Path) -> None:
    path = tmp_path / "gp.npz"
    gp.save(path)
    with np.load(path, allow_pickle=False) as f:  # no object arrays: nothing to unpickle
        assert all(f[name].dtype != object for name in f.files)
    X, _ = _toy(100, seed=4)
    np.testing.assert_allclose(SmoothGP.load(path).score(X), gp.score(X), atol=1e-12)


def test_the_smooth_variant_orders_with_the_gp_and_survives_save_load(tmp_path: Path) -> None:
    synth = synthetic.experiments(n_datasets=5, runs_per_dataset=20, seed=2)
    learner = MetaLearner.fit(synth.experiments, synth.space, n_jobs=1, max_folds=2,
                              settings=VARIANTS["smooth-blend"])
    assert learner.smooth is not None and learner.info.quality.spearman is not None
    untried = learner.info.settings.untried  # the synthetic grid: 576 configs, 100 runs
    assert 0.5 < untried < 1.0 and learner.info.settings.order_weight() == pytest.approx(0.5 * untried)
    assert f"Gaussian-process order weight {0.5 * untried:.2g}" in learner.info.settings.line()
    plain = MetaLearner(learner.info, learner.boosters)  # the same boosters without the GP
    meta = synthetic.dataset_meta(np.random.default_rng(5))
    ranked = [c for c, _ in learner.ranked_configs(meta, synth.space, n=20)]
    assert ranked != [c for c, _ in plain.ranked_configs(meta, synth.space, n=20)]
    assert SMOOTH_FILE in learner.save(tmp_path)
    loaded = MetaLearner.load(tmp_path)
    assert loaded.smooth is not None
    assert [c for c, _ in loaded.ranked_configs(meta, synth.space, n=20)] == ranked
    assert loaded.recommend_n(meta, synth.space, 3) == learner.recommend_n(meta, synth.space, 3)


def test_a_space_whose_every_config_was_tried_gets_no_gp(tmp_path: Path) -> None:
    """The GP interpolates into configs no run tried: with all ten of a space's configs logged on every
    dataset its weight is 0, so the fit, the order and the saved files are the boosters' alone."""
    from metallmix_wandb.knowledge.records import Experiment
    from metallmix_wandb.space.search_space import SearchSpace

    names = list("abcdefghij")
    space = SearchSpace.from_sweep_config({"parameters": {"x": {"values": names}}})
    rng = np.random.default_rng(0)
    exps = [Experiment(run_path=f"p/{d}/{x}", run_id=f"{d}{x}", dataset=f"d{d}", config={"x": x},
                       meta_features={"n_instances": 1000.0 * (d + 1)}, summary={"val/acc": float(rng.uniform())},
                       train_time_s=1.0)
            for d in range(4) for x in names]
    learner = MetaLearner.fit(exps, space, metric="val/acc", n_jobs=1, max_folds=2)
    assert learner.info.settings.untried == 0.0 and learner.info.settings.order_weight() == 0.0
    assert learner.smooth is None and "no Gaussian process" in learner.info.settings.line()
    assert not {SMOOTH_FILE, TRANSFER_FILE} & set(learner.save(tmp_path))
    assert MetaLearner.load(tmp_path).smooth is None
    half = MetaLearner.fit(exps[::2], space, metric="val/acc", n_jobs=1, lite=True)  # 5 of 10 configs tried
    assert half.info.settings.untried == 0.5 and half.smooth is not None


def test_smooth_auto_chooses_the_weight_on_its_own_leave_one_dataset_out_folds() -> None:
    synth = synthetic.experiments(n_datasets=5, runs_per_dataset=20, seed=3)
    learner = MetaLearner.fit(synth.experiments, synth.space, n_jobs=1, max_folds=5,
                              settings=VARIANTS["smooth-auto"])
    choice = learner.info.quality.smooth_choice
    assert set(choice) == {"0", "0.5", "1"} and all(0.0 <= v <= 1.0 for v in choice.values())
    best = max(choice.values())
    chosen = learner.info.settings.smooth
    assert choice[f"{chosen:g}"] == best and learner.info.quality.smooth_weight == chosen
    assert all(float(w) >= chosen for w, v in choice.items() if v == best)  # ties: the smaller weight
    assert "chosen by leave-one-dataset-out" in learner.info.settings.line()
    assert (learner.smooth is None) == (chosen == 0.0)


def test_a_damaged_gp_file_is_one_clear_error_at_load(gp: SmoothGP, tmp_path: Path) -> None:
    path = tmp_path / "gp.npz"
    bad = SmoothGP(**{**gp.__dict__, "y": gp.y[:-1], "_chol": None, "_alpha": None})  # one target short
    bad.save(path)
    with pytest.raises(ValueError, match="do not fit together"):
        SmoothGP.load(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(Exception):  # noqa: B017 - numpy's own error for an unreadable file
        SmoothGP.load(path)
