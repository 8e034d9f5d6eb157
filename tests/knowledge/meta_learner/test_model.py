"""The XGBoost meta-learner on a synthetic project with a known structure (real xgboost and shap)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from metallmix_wandb.knowledge.meta_learner.model import MetaLearner
from metallmix_wandb.knowledge.meta_learner.shap_summary import digest, summarise
from tests.support import synthetic


@pytest.fixture(scope="module")
def synth() -> synthetic.Synthetic:
    return synthetic.experiments(n_datasets=12, runs_per_dataset=30, seed=0)


@pytest.fixture(scope="module")
def learner(synth: synthetic.Synthetic) -> MetaLearner:
    return MetaLearner.fit(synth.experiments, synth.space, n_jobs=1)


def test_shap_values_sum_to_prediction_minus_expected_value(learner: MetaLearner) -> None:
    import xgboost as xgb

    X = learner.table.X
    for model in ("rank", "raw"):
        values, base = learner.shap_values(X, model)
        pred = learner.boosters[model].predict(xgb.DMatrix(X, missing=np.nan))
        np.testing.assert_allclose(values.sum(axis=1) + base, pred, atol=1e-5)
        # shap's TreeExplainer agrees with XGBoost's own TreeSHAP implementation.
        contribs = learner.boosters[model].predict(xgb.DMatrix(X, missing=np.nan), pred_contribs=True)
        np.testing.assert_allclose(values, contribs[:, :-1], atol=1e-5)


def test_lodo_quality_beats_random_on_a_known_structure(learner: MetaLearner) -> None:
    q = learner.info.quality
    assert q.measured and q.folds == 10 and q.datasets == 12 and q.runs == 360
    assert q.spearman > 0.8 and q.r2 > 0.5 and q.r2_raw > 0.5
    assert q.top1_hit_rate > 5 * q.top1_random and q.top1_percentile > 0.9
    # Conformal widening brings the 80% interval close to its nominal coverage on unseen datasets.
    assert 0.7 <= q.coverage <= 0.92 and q.coverage > q.coverage_uncalibrated
    assert "leave-one-dataset-out over 12 datasets" in q.line()


def test_digest_names_the_parameters_that_matter(learner: MetaLearner) -> None:
    X, layout = learner.table.X, learner.layout
    values, base = learner.shap_values(X)
    groups = {c.name: (c.feature, c.category) for c in layout.columns}
    s = summarise(values, X, layout.names, base_value=base, log_columns=layout.log_columns, groups=groups)
    params = [f for f in s.features if f.source == "param"]
    assert params[0].feature == "learning_rate" and params[0].best == "0.001"
    assert s.feature("base_model").best == "resnet50" and s.feature("base_model").worst == "mobilenet_v2"
    assert s.feature("batch_size").mean_abs_shap < 0.2 * params[0].mean_abs_shap  # batch size does nothing
    text = digest(s, metric="test/acc", runs=360, datasets=12)
    assert "1. **learning_rate**" in text and "best 0.001" in text


def test_predictions_have_ordered_intervals(learner: MetaLearner, synth: synthetic.Synthetic) -> None:
    meta = next(iter(synth.metas.values()))
    configs = synth.space.sample(np.random.default_rng(5), 50)
    preds = learner.predict(meta, configs)
    assert len(preds) == 50
    for p in preds:
        assert 0.0 <= p.low <= p.score <= p.high <= 1.0 and p.high - p.low > 0.05
        assert p.train_time_s > 0 and 0.0 < p.raw_metric < 1.0
    good = learner.predict(meta, [{**configs[0], "learning_rate": 1e-3, "base_model": "resnet50"}])[0]
    bad = learner.predict(meta, [{**configs[0], "learning_rate": 1e-5, "base_model": "mobilenet_v2"}])[0]
    assert good.score > bad.score + 0.3 and good.raw_metric > bad.raw_metric


def test_best_config_is_valid_and_near_the_true_optimum(learner: MetaLearner) -> None:
    """Its latency is measured by benchmarks/meta_learner_bench.py, not asserted here."""
    meta = synthetic.dataset_meta(np.random.default_rng(1234))  # a dataset no run has seen
    full = synthetic.space()  # the sweep YAML as written, `dataset` parameter included
    best = learner.best_config(meta, full)
    assert best.method == "grid" and best.scored == 576
    assert full.validate_config(best.config).ok and best.config["epochs"] == 10
    truth = sorted(synthetic.true_acc(meta, c) for c in full.without("dataset").iter_grid())
    assert synthetic.true_acc(meta, best.config) >= truth[-1] - 0.02  # within 2 points of the true best

    cont = synthetic.space(continuous=True)
    sampled = learner.best_config(meta, cont, n_samples=2000, seed=0)
    assert sampled.method == "sample" and sampled.scored > 2000
    assert cont.validate_config(sampled.config).ok
    assert sampled.prediction.score >= best.prediction.score - 0.05
    assert learner.best_config(meta, cont, seed=0).config == sampled.config  # seeded: reproducible


def test_save_load_and_refit_are_deterministic(learner: MetaLearner, synth: synthetic.Synthetic,
                                               tmp_path: Path) -> None:
    files = learner.save(tmp_path)
    assert set(files) == {"model_rank.ubj", "model_raw.ubj", "model_time.ubj", "model_quantile.ubj",
                          "meta_learner.json", "order_transfer.npz"}  # the default variant's per-dataset GPs
    loaded = MetaLearner.load(tmp_path)
    meta = next(iter(synth.metas.values()))
    configs = synth.space.sample(np.random.default_rng(9), 20)
    assert loaded.predict(meta, configs) == learner.predict(meta, configs)
    assert loaded.info.quality == learner.info.quality
    again = MetaLearner.fit(synth.experiments[::-1], synth.space, n_jobs=1, max_folds=2)  # order must not matter
    (tmp_path / "again").mkdir()
    again.info.quality = learner.info.quality
    again.save(tmp_path / "again")
    assert (tmp_path / "again" / "model_rank.ubj").read_bytes() == (tmp_path / "model_rank.ubj").read_bytes()
    assert (tmp_path / "again" / "order_transfer.npz").read_bytes() == (tmp_path / "order_transfer.npz").read_bytes()
    assert loaded.best_config(meta, synth.space).config == learner.best_config(meta, synth.space).config


def test_a_single_dataset_still_fits_but_says_quality_is_unmeasured() -> None:
    one = synthetic.experiments(n_datasets=1, runs_per_dataset=25, seed=4)
    learner = MetaLearner.fit(one.experiments, one.space, n_jobs=1)
    q = learner.info.quality
    assert not q.measured and "one dataset only" in q.note and "not measured" in q.line()
    meta = next(iter(one.metas.values()))
    assert one.space.validate_config(learner.best_config(meta, one.space).config).ok


def test_the_fit_does_not_depend_on_run_ids(synth: synthetic.Synthetic) -> None:
    """The same runs under other ids (another project, re-imported) give the same model: the boosters
    subsample rows by position, and ordering rows by run id changed the recommendation with the
    project's name."""
    renamed = [e.model_copy(update={"run_path": f"other/project/{i:05d}"})
               for i, e in enumerate(reversed(synth.experiments))]
    a = MetaLearner.fit(synth.experiments, synth.space, n_jobs=1, lite=True)
    b = MetaLearner.fit(renamed, synth.space, n_jobs=1, lite=True)
    X = np.ascontiguousarray(a.table.X, dtype=np.float32)
    np.testing.assert_array_equal(a.table.X, b.table.X)
    np.testing.assert_array_equal(a.boosters["rank"].inplace_predict(X), b.boosters["rank"].inplace_predict(X))


def test_raw_predictions_stay_inside_the_range_the_runs_reached(learner: MetaLearner,
                                                                 synth: synthetic.Synthetic) -> None:
    """Boosted trees add leaf values and can step past every run (an accuracy of 1.002 was shown on LCDB):
    the fit records the runs' lowest and highest metric and predictions are clipped to it."""
    raw = [e.summary["test/acc"] for e in synth.experiments]
    assert learner.info.raw_range == (min(raw), max(raw))
    meta = next(iter(synth.metas.values()))
    configs = synth.space.sample(np.random.default_rng(5), 50)
    free = np.array([p.raw_metric for p in learner.predict(meta, configs)])
    low, high = np.quantile(free, [0.25, 0.75])  # a narrower range than the predictions span
    narrow = MetaLearner(learner.info.model_copy(update={"raw_range": (float(low), float(high))}), learner.boosters)
    kept = np.array([p.raw_metric for p in narrow.predict(meta, configs)])
    assert kept.min() == pytest.approx(low) and kept.max() == pytest.approx(high)
    inside = (free >= low) & (free <= high)
    assert np.allclose(kept[inside], free[inside])
