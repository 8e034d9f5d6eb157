"""Dataset meta-features (the MetaLLMiX set), computed from labels or taken from user JSON.

Pure: numpy arrays and plain values in, a flat ``dict[str, float | str]`` out. Image loading lives in
``datasets/images.py``; this module never opens a file.

Choices (kept stable because stored runs and the Qdrant scaler depend on them):

- ``class_entropy`` is Shannon entropy in **bits** (log base 2) of the class distribution, so a
  balanced k-class dataset scores ``log2(k)`` (1.0 for two balanced classes).
- ``resolution`` is the image side length in pixels: ``H`` for square images and ``sqrt(H * W)``
  (the side of the square with the same pixel count) otherwise. Channels do not count.
- ``class_size_std`` is the population standard deviation (ddof=0) of the per-class counts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from numbers import Real
from typing import Any

import numpy as np

MODALITIES: tuple[str, ...] = ("MRI", "CT", "X-ray", "US", "DMS", "OCT", "other")

META_PREFIX = "meta/"
MAX_KEY_LENGTH = 128

MetaFeatures = dict[str, float | str]


class MetaFeatureError(ValueError):
    """Meta-features that cannot be computed or accepted, with the reason in words."""


_MODALITY_ALIASES: dict[str, str] = {
    # MRI
    "mri": "MRI", "mr": "MRI", "magneticresonance": "MRI", "magneticresonanceimaging": "MRI",
    "mra": "MRI",
    # CT
    "ct": "CT", "ctscan": "CT", "catscan": "CT", "computedtomography": "CT", "cect": "CT",
    # X-ray
    "xray": "X-ray", "xrays": "X-ray", "radiograph": "X-ray", "radiography": "X-ray", "cxr": "X-ray",
    "mammography": "X-ray", "mammogram": "X-ray",
    # ultrasound
    "us": "US", "ultrasound": "US", "ultrasonography": "US", "sonography": "US", "echo": "US",
    # dermoscopy
    "dms": "DMS", "dermoscopy": "DMS", "dermatoscopy": "DMS", "dermoscopic": "DMS",
    "dermatology": "DMS", "derm": "DMS",
    # optical coherence tomography
    "oct": "OCT", "opticalcoherencetomography": "OCT",
    "other": "other",
}


def normalise_modality(value: str) -> str:
    """Map a free-text modality onto MODALITIES, ignoring case, spaces, dashes and underscores.

    Unknown values become 'other' rather than an error: the user may work in a domain we never saw.
    """
    key = re.sub(r"[\s\-_./]+", "", str(value)).lower()
    return _MODALITY_ALIASES.get(key, "other")


def _as_int_labels(labels: np.ndarray) -> np.ndarray:
    """Flatten (N,) or (N, 1) labels to int64, rejecting multi-label and non-integer values."""
    arr = np.asarray(labels)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise MetaFeatureError(
            f"labels must have shape (N,) or (N, 1), got {arr.shape} (multi-label data is not supported)"
        )
    if arr.size == 0:
        raise MetaFeatureError("labels are empty: no instances to describe")
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise MetaFeatureError(f"labels must be integer class indices, got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise MetaFeatureError("labels must be integer class indices, got non-integer floats")
    out = arr.astype(np.int64)
    if out.min() < 0:
        raise MetaFeatureError(f"labels must be non-negative class indices, found {int(out.min())}")
    return out


def _resolution(image_shape: tuple[int, ...]) -> float:
    """Side length of one image: H if square, sqrt(H*W) otherwise (see module docstring)."""
    shape = tuple(image_shape)
    if len(shape) not in (2, 3):
        raise MetaFeatureError(f"image_shape must be (H, W) or (H, W, C), got {shape}")
    try:
        h, w = int(shape[0]), int(shape[1])
    except (TypeError, ValueError) as exc:
        raise MetaFeatureError(f"image_shape must hold integers, got {shape}") from exc
    if h <= 0 or w <= 0:
        raise MetaFeatureError(f"image height and width must be positive, got {shape}")
    return float(h) if h == w else math.sqrt(h * w)


def compute_meta_features(
    labels: np.ndarray,
    image_shape: tuple[int, ...],
    modality: str,
    *,
    n_classes: int | None = None,
) -> MetaFeatures:
    """The MetaLLMiX meta-features of a labelled image set.

    Pass ``n_classes`` when the class list is known (e.g. from folder names): a declared class with
    no instance is then an error instead of silently vanishing from the counts.
    """
    y = _as_int_labels(labels)
    if n_classes is not None:
        if n_classes < 1:
            raise MetaFeatureError(f"n_classes must be positive, got {n_classes}")
        if int(y.max()) >= n_classes:
            raise MetaFeatureError(f"label {int(y.max())} is out of range for n_classes={n_classes}")
        counts = np.bincount(y, minlength=n_classes)
        empty = [int(i) for i in np.flatnonzero(counts == 0)]
        if empty:
            raise MetaFeatureError(f"class(es) {empty} declared but have zero instances")
    else:
        counts = np.unique(y, return_counts=True)[1]
    counts = counts.astype(np.float64)
    p = counts / counts.sum()
    entropy = float(-(p * np.log2(p)).sum()) + 0.0  # + 0.0 turns -0.0 into 0.0
    return {
        "n_instances": float(y.size),
        "n_classes": float(counts.size),
        "imbalance_ratio": float(counts.max() / counts.min()),
        "class_entropy": entropy,
        "resolution": _resolution(image_shape),
        "class_size_mean": float(counts.mean()),
        "class_size_std": float(counts.std(ddof=0)),
        "class_size_min": float(counts.min()),
        "class_size_max": float(counts.max()),
        "modality": normalise_modality(modality),
    }


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not key.strip():
        raise MetaFeatureError(f"meta-feature keys must be non-empty strings, got {key!r}")
    if len(key) > MAX_KEY_LENGTH:
        raise MetaFeatureError(f"meta-feature key is longer than {MAX_KEY_LENGTH} characters: {key[:40]!r}")
    return key


def _finite(key: str, number: float) -> float:
    if not math.isfinite(number):
        raise MetaFeatureError(f"meta-feature {key!r} is not finite ({number})")
    return number


def _coerce_value(key: str, value: Any) -> float | str:
    """One user value -> float (numbers, numeric strings, bools) or a categorical string."""
    if key == "modality":
        if not isinstance(value, str) or not value.strip():
            raise MetaFeatureError(f"meta-feature 'modality' must be a non-empty string, got {value!r}")
        return normalise_modality(value)
    if isinstance(value, (bool, np.bool_)):
        return 1.0 if value else 0.0
    if isinstance(value, (Real, np.number)) and not isinstance(value, np.complexfloating):
        return _finite(key, float(value))
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise MetaFeatureError(f"meta-feature {key!r} is an empty string")
        try:
            number = float(text)
        except ValueError:
            return text
        return _finite(key, number)
    kind = "null" if value is None else type(value).__name__
    raise MetaFeatureError(
        f"meta-feature {key!r} must be a number, a boolean or a string, got {kind}: {value!r:.60}"
    )


def meta_features_from_json(obj: Mapping[str, Any]) -> MetaFeatures:
    """Validate user-supplied meta-features (open schema: any keys, numeric or categorical values)."""
    if not isinstance(obj, Mapping):
        raise MetaFeatureError(f"meta-features must be a JSON object, got {type(obj).__name__}")
    if not obj:
        raise MetaFeatureError("meta-features are empty")
    return {_check_key(k): _coerce_value(k, v) for k, v in obj.items()}


def to_config_keys(mf: Mapping[str, float | str]) -> dict[str, float | str]:
    """Meta-features as W&B config entries: ``k -> 'meta/k'`` (DESIGN.md §4)."""
    return {f"{META_PREFIX}{_check_key(k)}": v for k, v in mf.items()}
