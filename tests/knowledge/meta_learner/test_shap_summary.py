"""SHAP summaries against a hand computation, and the digest's wording."""

from __future__ import annotations

import math

import numpy as np
import pytest

from metallmix_wandb.knowledge.meta_learner.quality import conformal_margin, pearson, spearman
from metallmix_wandb.knowledge.meta_learner.shap_summary import digest, local_top, split_column, summarise

# 4 runs; columns: a numeric lr, a one-hot model group (a|b), a numeric meta-feature that never moves
# the prediction (its SHAP is 0: correlation undefined -> None, not 0 or NaN).
COLUMNS = ["lr", "model=a", "model=b", "meta/size"]
X = np.array([
    [0.1, 1, 0, 100.0],
    [0.01, 0, 1, 200.0],
    [0.001, 1, 0, 300.0],
    [0.01, 0, 1, 400.0],
])
S = np.array([
    [-0.3, 0.10, 0.02, 0.0],
    [0.1, -0.05, -0.15, 0.0],
    [0.2, 0.12, 0.00, 0.0],
    [0.1, -0.07, -0.13, 0.0],
])


def test_grouped_means_and_correlations_match_a_hand_computation() -> None:
    s = summarise(S, X, COLUMNS, base_value=0.5, target="rank", log_columns=["lr"])
    lr, model, size = s.feature("lr"), s.feature("model"), s.feature("meta/size")
    # mean |SHAP|: lr (0.3+0.1+0.2+0.1)/4; model group sums per row 0.12, -0.2, 0.12, -0.2
    assert lr.mean_abs_shap == pytest.approx(0.175)
    assert model.mean_abs_shap == pytest.approx(0.16)
    assert [f.feature for f in s.features] == ["lr", "model", "meta/size"]
    # lr has 3 distinct values: one group each, sorted by value.
    assert [(e.value, e.count, e.mean_shap) for e in lr.by_value] == [
        ("0.001", 1, pytest.approx(0.2)), ("0.01", 2, pytest.approx(0.1)), ("0.1", 1, pytest.approx(-0.3))]
    # Pearson on log10(lr) = [-1, -2, -3, -2] against SHAP [-0.3, 0.1, 0.2, 0.1]
    x, y = np.array([-1, -2, -3, -2.0]), np.array([-0.3, 0.1, 0.2, 0.1])
    xc, yc = x - x.mean(), y - y.mean()
    assert lr.correlation == pytest.approx(float(xc @ yc / math.sqrt((xc @ xc) * (yc @ yc))), abs=1e-6)
    assert lr.correlation < -0.9 and lr.best == "0.001" and lr.worst == "0.1"
    # Categories: the group's summed SHAP over the rows where the category is active.
    assert [(e.value, e.count) for e in model.by_value] == [("a", 2), ("b", 2)]
    assert model.by_value[0].mean_shap == pytest.approx(0.12) and model.by_value[1].mean_shap == pytest.approx(-0.2)
    assert model.by_value[0].correlation == pytest.approx(1.0) and model.best == "a" and model.worst == "b"
    assert model.correlation is None and model.kind == "categorical" and model.source == "param"
    assert size.source == "meta" and size.correlation is None and size.mean_abs_shap == 0.0
    assert s.column_importance["lr"] == pytest.approx(0.175) and s.base_value == 0.5


def test_many_numeric_values_are_binned_by_quantile_and_missing_kept_apart() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 200)
    x[:10] = np.nan
    s = 2 * np.nan_to_num(x, nan=0.5) - 1
    f = summarise(s[:, None], x[:, None], ["dropout"], base_value=0.0).feature("dropout")
    bins = [e for e in f.by_value if e.value != "missing"]
    assert len(bins) == 5 and sum(e.count for e in bins) == 190
    assert [e.mean_shap for e in bins] == sorted(e.mean_shap for e in bins)  # increasing with x
    assert f.by_value[-1].value == "missing" and f.by_value[-1].count == 10
    assert f.correlation == pytest.approx(1.0) and f.best == bins[-1].value


def test_local_top3_groups_one_hot_columns_and_keeps_sign_and_value() -> None:
    top = local_top(S, X, COLUMNS, k=2)
    assert [(e.feature, e.value, e.shap) for e in top[0]] == [("lr", 0.1, -0.3), ("model", "a", pytest.approx(0.12))]
    assert [(e.feature, e.value) for e in top[1]] == [("model", "b"), ("lr", 0.01)]


def test_pearson_spearman_and_conformal_margin_edge_cases() -> None:
    assert pearson(np.array([1.0, 2, 3]), np.array([5.0, 5, 5])) is None
    assert pearson(np.array([1.0, np.nan, 3, 4]), np.array([1.0, 2, 3, 4])) == pytest.approx(1.0)
    assert pearson(np.array([1.0, 2]), np.array([2.0, 1])) is None  # too few pairs
    assert spearman(np.array([1.0, 2, 3, 4]), np.array([10.0, 20, 15, 40])) == pytest.approx(0.8)
    scores = np.arange(1, 11, dtype=float)  # ceil(11 * 0.8) = 9 -> the 9th smallest
    assert conformal_margin(scores) == 9.0 and conformal_margin(np.array([-1.0, -2.0])) == 0.0
    assert split_column("meta/modality=X-ray") == ("meta/modality", "X-ray")


def test_digest_names_what_helps_and_hurts_with_numbers() -> None:
    rank = summarise(S, X, COLUMNS, base_value=0.5, log_columns=["lr"], unvaried=["epochs"])
    text = digest(rank, rank, metric="test/acc", runs=4, datasets=2, quality_line="LODO: R² 0.50", project="p")
    assert text == digest(rank, rank, metric="test/acc", runs=4, datasets=2, quality_line="LODO: R² 0.50", project="p")
    assert "1. **lr** (mean |SHAP| 0.175): best 0.001 (+0.200, 1 runs), worst 0.1 (−0.300, 1 runs); " \
           "lower values help (on a log scale)" in text
    assert "2. **model** (mean |SHAP| 0.160): best a (+0.120, 2 runs), worst b (−0.200, 2 runs)" in text
    assert "Helps most: lr=0.001 (+0.200), model=a (+0.120), lr=0.01 (+0.100)." in text
    assert "Hurts most: lr=0.1 (−0.300), model=b (−0.200)." in text
    assert "Never varied in the runs, so no evidence either way: epochs." in text
    assert "Learned from 4 runs on 2 datasets" in text and "LODO: R² 0.50" in text


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        summarise(S[:, :3], X, COLUMNS, base_value=0.0)
