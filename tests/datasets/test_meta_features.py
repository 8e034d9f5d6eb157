"""Meta-features: hand-checked values, the open JSON schema, and the W&B config round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest

from metallmix_wandb.datasets.meta_features import (
    MODALITIES,
    MetaFeatureError,
    compute_meta_features,
    meta_features_from_json,
    normalise_modality,
    to_config_keys,
)
from tests.support.wandb_runs import from_config

EXPECTED_KEYS = {
    "n_instances", "n_classes", "imbalance_ratio", "class_entropy", "resolution",
    "class_size_mean", "class_size_std", "class_size_min", "class_size_max", "modality",
}


def test_three_to_one_by_hand() -> None:
    mf = compute_meta_features(np.array([0, 0, 0, 1]), (28, 28), "US")
    assert set(mf) == EXPECTED_KEYS
    assert mf["n_instances"] == 4.0 and mf["n_classes"] == 2.0
    assert mf["imbalance_ratio"] == 3.0
    # -(3/4 log2 3/4 + 1/4 log2 1/4) = 0.811278...
    assert mf["class_entropy"] == pytest.approx(0.8112781245, abs=1e-9)
    assert mf["class_size_mean"] == 2.0
    assert mf["class_size_std"] == 1.0  # population std of [3, 1]
    assert (mf["class_size_min"], mf["class_size_max"]) == (1.0, 3.0)
    assert mf["resolution"] == 28.0
    assert mf["modality"] == "US"
    assert all(isinstance(v, float) for k, v in mf.items() if k != "modality")


def test_three_classes_by_hand_entropy_in_bits() -> None:
    mf = compute_meta_features(np.array([2, 0, 2, 1, 2, 0, 1, 2]), (32, 32, 3), "ct")
    assert mf["class_entropy"] == pytest.approx(1.5)  # p = 1/4, 1/4, 1/2
    assert mf["imbalance_ratio"] == 2.0
    assert mf["class_size_mean"] == pytest.approx(8 / 3)
    assert mf["class_size_std"] == pytest.approx(math.sqrt(8 / 9))
    assert mf["modality"] == "CT"


def test_balanced_classes_reach_log2_k_and_ratio_one() -> None:
    mf = compute_meta_features(np.repeat(np.arange(4), 5), (8, 8), "other")
    assert mf["class_entropy"] == pytest.approx(2.0)
    assert mf["imbalance_ratio"] == 1.0
    assert mf["class_size_std"] == 0.0


def test_single_class_has_zero_entropy() -> None:
    mf = compute_meta_features(np.zeros(5, dtype=np.int64), (8, 8), "other")
    assert mf["class_entropy"] == 0.0 and math.copysign(1.0, mf["class_entropy"]) == 1.0
    assert mf["n_classes"] == 1.0


def test_column_labels_and_integral_floats_accepted() -> None:
    a = compute_meta_features(np.array([[0], [1], [1]]), (28, 28), "X-ray")
    b = compute_meta_features(np.array([0.0, 1.0, 1.0]), (28, 28), "X-ray")
    assert a == b and a["n_instances"] == 3.0 and a["imbalance_ratio"] == 2.0


@pytest.mark.parametrize(
    ("shape", "expected"),
    [((28, 28), 28.0), ((28, 28, 1), 28.0), ((64, 64, 3), 64.0), ((16, 64), 32.0), ((10, 40, 3), 20.0)],
)
def test_resolution_is_side_or_geometric_mean(shape: tuple[int, ...], expected: float) -> None:
    assert compute_meta_features(np.array([0, 1]), shape, "MRI")["resolution"] == pytest.approx(expected)


@pytest.mark.parametrize("shape", [(28,), (1, 28, 28, 1), (0, 28), (28, -1)])
def test_bad_image_shape_rejected(shape: tuple[int, ...]) -> None:
    with pytest.raises(MetaFeatureError, match="image"):
        compute_meta_features(np.array([0, 1]), shape, "MRI")


def test_empty_labels_rejected() -> None:
    with pytest.raises(MetaFeatureError, match="empty"):
        compute_meta_features(np.array([], dtype=np.int64), (28, 28), "US")


def test_negative_labels_rejected() -> None:
    with pytest.raises(MetaFeatureError, match="non-negative"):
        compute_meta_features(np.array([0, -1, 1]), (28, 28), "US")


def test_declared_empty_class_detected() -> None:
    labels = np.array([0, 0, 2, 2])
    # Without n_classes the gap is invisible: two classes present.
    assert compute_meta_features(labels, (28, 28), "US")["n_classes"] == 2.0
    with pytest.raises(MetaFeatureError, match=r"\[1\]"):
        compute_meta_features(labels, (28, 28), "US", n_classes=3)
    with pytest.raises(MetaFeatureError, match="out of range"):
        compute_meta_features(labels, (28, 28), "US", n_classes=2)
    full = compute_meta_features(np.array([0, 1, 2, 2]), (28, 28), "US", n_classes=3)
    assert full["n_classes"] == 3.0 and full["imbalance_ratio"] == 2.0


@pytest.mark.parametrize("labels", [np.array([0.5, 1.0]), np.array([[0, 1], [1, 0]]), np.array(["a", "b"])])
def test_non_integer_or_multilabel_rejected(labels: np.ndarray) -> None:
    with pytest.raises(MetaFeatureError):
        compute_meta_features(labels, (28, 28), "US")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("xray", "X-ray"), ("X-Ray", "X-ray"), ("x ray", "X-ray"), ("X_RAY", "X-ray"),
        ("ultrasound", "US"), ("US", "US"), ("dermoscopy", "DMS"), ("Dermatoscopy", "DMS"),
        ("mri", "MRI"), ("CT", "CT"), ("computed tomography", "CT"), ("oct", "OCT"),
        ("other", "other"), ("histopathology", "other"), ("", "other"),
    ],
)
def test_normalise_modality(raw: str, expected: str) -> None:
    assert normalise_modality(raw) == expected
    assert expected in MODALITIES


def test_json_open_schema_coerces_values() -> None:
    mf = meta_features_from_json(
        {"n_classes": "12", "n_instances": 300, "ratio": 1.5, "has_masks": True, "grey": False,
         "modality": "x-ray", "domain": " tabular ", "big": "1e3", "np": np.int64(7)}
    )
    assert mf == {
        "n_classes": 12.0, "n_instances": 300.0, "ratio": 1.5, "has_masks": 1.0, "grey": 0.0,
        "modality": "X-ray", "domain": "tabular", "big": 1000.0, "np": 7.0,
    }
    assert all(type(v) in (float, str) for v in mf.values())


@pytest.mark.parametrize(
    ("value", "fragment"),
    [(None, "null"), ([1, 2], "list"), ({"a": 1}, "dict"), (float("nan"), "finite"),
     (float("inf"), "finite"), ("nan", "finite"), ("-inf", "finite"), ("  ", "empty")],
)
def test_json_bad_values_name_the_key(value: object, fragment: str) -> None:
    with pytest.raises(MetaFeatureError, match=fragment) as info:
        meta_features_from_json({"n_classes": 2.0, "bad_key": value})
    assert "bad_key" in str(info.value)


@pytest.mark.parametrize("key", ["", "   ", "k" * 200, 3])
def test_json_bad_keys_rejected(key: object) -> None:
    with pytest.raises(MetaFeatureError, match="key"):
        meta_features_from_json({key: 1.0})


def test_json_rejects_non_object_and_empty_and_numeric_modality() -> None:
    with pytest.raises(MetaFeatureError, match="object"):
        meta_features_from_json([("a", 1)])  # type: ignore[arg-type]
    with pytest.raises(MetaFeatureError, match="empty"):
        meta_features_from_json({})
    with pytest.raises(MetaFeatureError, match="modality"):
        meta_features_from_json({"modality": 3})


def test_config_round_trip_flat() -> None:
    mf = compute_meta_features(np.array([0, 0, 1]), (28, 28), "US")
    cfg = to_config_keys(mf)
    assert set(cfg) == {f"meta/{k}" for k in EXPECTED_KEYS}
    assert cfg["meta/imbalance_ratio"] == 2.0
    run_config = {"lr": 0.01, "model": "resnet18", "dataset": "x.npz", "metadata": 5, **cfg}
    assert from_config(run_config) == mf
