"""Transfer one past dataset at a time (transfer.py): a GP per past dataset over the config columns,
sharing one kernel, combined by meta-feature closeness; and the `transfer` variants that order the
meta-learner's candidates with it (real xgboost, real scikit-learn as the reference)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from metallmix_wandb.knowledge.meta_learner.model import TRANSFER_FILE, MetaLearner
from metallmix_wandb.knowledge.meta_learner.transfer import TransferGP, fit_transfer
from metallmix_wandb.knowledge.meta_learner.variants import VARIANTS
from metallmix_wandb.knowledge.records import Experiment
from metallmix_wandb.space.search_space import SearchSpace
from tests.support import synthetic

SIZES = (100.0, 200.0, 10_000.0, 20_000.0)  # two small datasets, two large ones
GRID = np.round(np.linspace(0.0, 1.0, 101), 3)


def _peak(n_instances: float) -> float:
    """Where the config x is best: small datasets at 0.2, large ones at 0.8."""
    return 0.2 if n_instances < 1000 else 0.8


def _table(runs: int = 15, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Layout columns [n_instances (meta, log), x (param)], a within-dataset percentile per run."""
    rng = np.random.default_rng(seed)
    rows, score, groups = [], [], []
    for g, n in enumerate(SIZES):
        x = rng.choice(GRID, runs, replace=False)
        y = -np.abs(x - _peak(n)) + rng.normal(0, 0.01, runs)
        rows += [[n, v] for v in x]
        score += list((np.argsort(np.argsort(y)) + 0.5) / runs)
        groups += [g] * runs
    return np.array(rows), np.array(score), np.array(groups)


COLS, META, LOG = np.array([False, True]), np.array([True, False]), np.array([True, False])


def _candidates(n_instances: float) -> np.ndarray:
    return np.column_stack([np.full(len(GRID), n_instances), GRID])


GROUPED = True  # the toy datasets disagree outright: a pooled kernel reads that as noise (a long length scale)


@pytest.fixture(scope="module")
def gp() -> TransferGP:
    X, score, groups = _table()
    return fit_transfer(X, score, groups, COLS, META, LOG, locality=1.0, grouped=GROUPED)


def test_each_surface_is_that_datasets_own_gp(gp: TransferGP) -> None:
    """Surface g = scikit-learn's GP with the shared kernel conditioned on dataset g's runs alone."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    X, score, groups = _table()
    s = gp.shape
    kernel = ConstantKernel(s.constant, "fixed") * Matern(s.length, "fixed", nu=2.5) + WhiteKernel(s.noise, "fixed")
    cand = _candidates(150.0)
    surfaces = gp.surfaces(cand)
    assert surfaces.shape == (len(GRID), len(SIZES))
    for g in range(len(SIZES)):
        rows = groups == g
        ref = GaussianProcessRegressor(kernel=kernel, normalize_y=True, optimizer=None)
        ref.fit(s.scale(X[rows][:, COLS]), score[rows])
        np.testing.assert_allclose(surfaces[:, g], ref.predict(s.scale(cand[:, COLS])), atol=1e-8)
        assert abs(GRID[int(np.argmax(surfaces[:, g]))] - _peak(SIZES[g])) <= 0.1  # each learned its own peak


def test_the_consensus_leans_to_the_datasets_that_are_close(gp: TransferGP) -> None:
    """A small new dataset gets the small datasets' peak, a large one the large datasets' peak; with
    every past dataset weighed alike both get the same order (locality 0 cannot adapt)."""
    for n in (150.0, 15_000.0):
        cand = _candidates(n)
        assert abs(GRID[int(np.argmax(gp.score(cand)))] - _peak(n)) <= 0.1
        w = gp.weights(cand)
        near = [g for g, size in enumerate(SIZES) if (size < 1000) == (n < 1000)]
        assert min(w[near]) > 2 * max(np.delete(w, near))
    uniform = TransferGP(**{**gp.__dict__, "locality": 0.0})
    np.testing.assert_allclose(uniform.score(_candidates(150.0)), uniform.score(_candidates(15_000.0)))
    np.testing.assert_allclose(uniform.weights(_candidates(150.0)), 1.0)


def test_datasets_that_disagree_outright_get_the_kernel_fitted_per_dataset() -> None:
    """Pooled, the toy's runs (opposite peaks) read as noise: the fit falls back to the per-dataset
    likelihood, whose surfaces find each dataset's peak."""
    from metallmix_wandb.knowledge.meta_learner.smooth import fit_smooth

    X, score, groups = _table()
    pooled = fit_smooth(X[:, COLS], score, LOG[COLS])
    assert pooled.constant < pooled.noise  # the degenerate pooled fit
    gp = fit_transfer(X, score, groups, COLS, META, LOG)  # the default: pooled, falling back
    assert gp.shape.constant > gp.shape.noise
    per = gp.surfaces(_candidates(150.0))
    assert all(abs(GRID[int(np.argmax(per[:, g]))] - _peak(SIZES[g])) <= 0.1 for g in range(len(SIZES)))


def test_excluded_datasets_get_no_weight_and_the_blend_is_linear(gp: TransferGP) -> None:
    cand = _candidates(150.0)
    per = gp.surfaces(cand)
    w = gp.weights(cand, exclude=np.array([0, 1]))
    assert w[0] == w[1] == 0.0 and (w[2:] > 0).all()
    # score's kernel runs in float32 (speed on big grids): equal to the float64 surfaces' mean to 1e-5
    np.testing.assert_allclose(gp.score(cand, exclude=np.array([0, 1])), per[:, 2:] @ w[2:] / w[2:].sum(), atol=1e-5)
    offset = np.linspace(0, 1, len(cand))
    np.testing.assert_allclose(gp.score(cand, offset, weight=0.25), 0.75 * offset + 0.25 * gp.score(cand), atol=1e-12)


def test_spread_subtracts_the_weighted_std_across_the_surfaces(gp: TransferGP) -> None:
    """`transfer_spread` (the `transfer-robust` variants): the order is the weighted mean of the surfaces
    less spread x their weighted std, so a config the past datasets disagree on ranks lower."""
    cand = _candidates(150.0)
    per, w = gp.surfaces(cand), gp.weights(cand)
    w = w / w.sum()
    mean = per @ w
    sd = np.sqrt(((per - mean[:, None]) ** 2) @ w)
    robust = TransferGP(**{**gp.__dict__, "spread": 1.0})
    np.testing.assert_allclose(robust.score(cand), mean - sd, atol=1e-5)
    np.testing.assert_allclose(gp.score(cand), mean, atol=1e-5)
    assert sd.max() > 0.1  # the two groups of datasets disagree: the penalty is not a constant shift
    offset = np.linspace(0, 1, len(cand))
    np.testing.assert_allclose(robust.score(cand, offset, weight=0.5), 0.5 * offset + 0.5 * (mean - sd), atol=1e-5)


def test_save_load_round_trip_and_a_damaged_file(gp: TransferGP, tmp_path: Path) -> None:
    path = tmp_path / "t.npz"
    gp.save(path)
    with np.load(path, allow_pickle=False) as f:
        assert all(f[name].dtype != object for name in f.files)
    np.testing.assert_allclose(TransferGP.load(path).score(_candidates(150.0)), gp.score(_candidates(150.0)), atol=1e-12)
    first = path.read_bytes()
    gp.save(path)
    assert path.read_bytes() == first  # byte-stable: an unchanged re-sync makes no new artifact version
    TransferGP(**{**gp.__dict__, "groups": gp.groups[:-1], "_alpha": None}).save(path)
    with pytest.raises(ValueError, match="do not fit together"):
        TransferGP.load(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(Exception):  # noqa: B017 - numpy's own error for an unreadable file
        TransferGP.load(path)


@pytest.mark.parametrize("variant", ["transfer-blend", "transfer", "transfer-grouped", "transfer-robust"])
def test_the_transfer_variant_orders_adapts_and_survives_save_load(variant: str, tmp_path: Path) -> None:
    """Through MetaLearner: the one-shot pick follows the new dataset's neighbours (the boosters alone
    pick one x for both), the portfolio covers the past datasets' peaks, save/load keeps the order."""
    space = SearchSpace.from_sweep_config({"parameters": {"x": {"values": [float(v) for v in GRID]}}})
    X, score, groups = _table(runs=12)
    exps = [Experiment(run_path=f"p/d{g}/{i:03d}", run_id=f"{g}-{i}", dataset=f"d{g}", config={"x": float(x[1])},
                       meta_features={"n_instances": float(x[0])}, summary={"val/acc": float(s)}, train_time_s=1.0)
            for i, (x, s, g) in enumerate(zip(X, score, groups, strict=True))]
    learner = MetaLearner.fit(exps, space, metric="val/acc", n_jobs=1, max_folds=4, settings=VARIANTS[variant])
    assert isinstance(learner.smooth, TransferGP) and learner.info.quality.measured
    assert "per-dataset Gaussian processes" in learner.info.settings.line()
    small, large = {"n_instances": 150.0}, {"n_instances": 15_000.0}
    assert abs(learner.best_config(small, space).config["x"] - 0.2) <= 0.1
    assert abs(learner.best_config(large, space).config["x"] - 0.8) <= 0.1
    two = learner.recommend_n(small, space, 2)
    assert abs(two[0]["x"] - 0.2) <= 0.1 and abs(two[1]["x"] - 0.8) <= 0.1  # the cover reaches the other peak
    assert TRANSFER_FILE in learner.save(tmp_path)
    loaded = MetaLearner.load(tmp_path)
    assert isinstance(loaded.smooth, TransferGP) and loaded.smooth.spread == learner.info.settings.transfer_spread
    assert loaded.recommend_n(small, space, 3) == learner.recommend_n(small, space, 3)


def test_a_synthetic_knowledge_base_fits_the_default_shape() -> None:
    synth = synthetic.experiments(n_datasets=5, runs_per_dataset=20, seed=2)
    learner = MetaLearner.fit(synth.experiments, synth.space, n_jobs=1, max_folds=2, settings=VARIANTS["transfer"])
    meta = synthetic.dataset_meta(np.random.default_rng(5))
    ranked = [c for c, _ in learner.ranked_configs(meta, synth.space, n=20)]
    plain = MetaLearner(learner.info, learner.boosters)
    assert ranked != [c for c, _ in plain.ranked_configs(meta, synth.space, n=20)]
    assert learner.info.quality.smooth_weight == 1.0 and learner.info.quality.spearman is not None


def _trials(n_instances: float, xs: list[float], peak: float) -> tuple[np.ndarray, np.ndarray]:
    """Trials of a new dataset whose runs peak at `peak`, whatever its meta-features say."""
    X = np.column_stack([np.full(len(xs), n_instances), xs])
    y = -np.abs(np.array(xs) - peak)
    return X, (np.argsort(np.argsort(y)) + 0.5) / len(xs)


def test_trials_reweigh_the_surfaces_towards_the_datasets_that_order_them(gp: TransferGP) -> None:
    """A new dataset that looks small (closeness: the small datasets, peak 0.2) but whose trials peak at
    0.8, as the large datasets do: after `adapt` the weight moves to the large datasets (and the trials'
    own GP) and the consensus follows them; before, it followed the meta-features."""
    cand = _candidates(150.0)
    assert abs(GRID[int(np.argmax(gp.score(cand)))] - 0.2) <= 0.1
    X_t, y_t = _trials(150.0, [0.1, 0.3, 0.5, 0.7, 0.9], peak=0.8)
    adapted = gp.adapt(X_t, y_t)
    assert adapted.datasets == gp.datasets + 1 and adapted.fixed is not None
    assert adapted.fixed.sum() == pytest.approx(1.0)
    small = [g for g, size in enumerate(SIZES) if size < 1000]
    assert adapted.fixed[small].sum() < 0.05  # they order the trials the wrong way round
    assert abs(GRID[int(np.argmax(adapted.score(cand)))] - 0.8) <= 0.1
    # the trials' own GP is one of the surfaces: at its rows its prediction is close to the trials' percentiles
    np.testing.assert_allclose(adapted.surfaces(X_t)[:, -1], y_t, atol=0.1)


def test_without_an_ordered_pair_the_closeness_weights_stand(gp: TransferGP) -> None:
    cand = _candidates(150.0)
    one = gp.adapt(*_trials(150.0, [0.5], peak=0.8))
    tied = gp.adapt(_trials(150.0, [0.4, 0.6], peak=0.5)[0], np.array([0.5, 0.5]))
    for same in (one, tied):
        assert same is gp
        np.testing.assert_allclose(same.score(cand), gp.score(cand))
    assert not gp.gains(cand).any()  # nothing to cover before the trials


def test_the_cover_gains_nothing_at_the_trials_and_most_where_the_weighted_surfaces_rise(gp: TransferGP) -> None:
    X_t, y_t = _trials(15_000.0, [0.1, 0.3, 0.5, 0.6], peak=0.8)
    adapted = gp.adapt(X_t, y_t)
    cand = _candidates(15_000.0)
    gains = adapted.gains(cand)
    assert (gains >= 0).all()
    np.testing.assert_allclose(adapted.gains(X_t), 0.0, atol=1e-12)  # no trial improves on the trials
    assert abs(GRID[int(np.argmax(gains))] - 0.8) <= 0.1
