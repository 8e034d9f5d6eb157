from __future__ import annotations

import math

import pytest

from metallmix_wandb.knowledge.scaling import ScalerError, fit_scaler


def test_counts_spanning_decades_are_compared_on_a_log_scale() -> None:
    scaler = fit_scaler([{"n": 500.0, "c": 2.0}, {"n": 5_000.0, "c": 3.0}, {"n": 50_000.0, "c": 4.0}])
    assert scaler.features == ["c", "n"] and scaler.log == [False, True]
    v = [scaler.transform({"n": n, "c": 3.0})[1] for n in (500.0, 5_000.0, 50_000.0)]
    assert v[1] - v[0] == pytest.approx(v[2] - v[1], rel=1e-3)
    assert sum(v) == pytest.approx(0.0, abs=1e-9)


def test_standardised_and_categoricals_ignored() -> None:
    scaler = fit_scaler([{"x": 1.0, "modality": "US"}, {"x": 3.0, "modality": "CT"}])
    assert scaler.features == ["x"]
    assert scaler.transform({"x": 1.0}) == [pytest.approx(-1.0)]
    assert scaler.transform({"x": 3.0}) == [pytest.approx(1.0)]


def test_missing_or_bad_values_sit_at_the_centre() -> None:
    scaler = fit_scaler([{"x": 1.0, "y": 1.0}, {"x": 2.0, "y": 5.0}])
    assert scaler.transform({"x": math.nan, "y": "?"}) == [0.0, 0.0]
    assert scaler.transform({}) == [0.0, 0.0]


def test_constant_feature_does_not_divide_by_zero() -> None:
    scaler = fit_scaler([{"x": 4.0}, {"x": 4.0}])
    assert scaler.transform({"x": 5.0}) == [1.0]


def test_no_numeric_features_is_an_error() -> None:
    with pytest.raises(ScalerError, match="no numeric meta-features"):
        fit_scaler([{"modality": "US"}])
