"""Train / val / test indices and stratified k-fold, from a dataset's split labels. Numpy only, seeded.

- Hold-out (``cv_folds`` 0 or 1): the dataset's own train / val / test splits. A missing val or test
  split is carved from train (15% each, stratified) and said so in ``notes``.
- k-fold (``cv_folds`` = k > 1): stratified k folds over train + val together; test stays the test.
- ``max_train`` (``max_train_samples``) keeps a stratified subset of the training pool (train for
  hold-out, train + val for k-fold). Validation and test sets are never subsampled.
Tested through tests/training/test_entrypoint.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CARVE_FRACTION = 0.15


class SplitError(ValueError):
    """Indices that cannot be made (too few images for the folds, say)."""


@dataclass
class Split:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    notes: list[str] = field(default_factory=list)


@dataclass
class Folds:
    folds: list[tuple[np.ndarray, np.ndarray]]  # (train, val) per fold
    test: np.ndarray
    notes: list[str] = field(default_factory=list)


def stratified_order(idx: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``idx`` reordered so that every prefix holds the classes in (about) their overall proportions."""
    idx = np.asarray(idx)
    if idx.size == 0:
        return idx
    y = labels[idx]
    key = np.empty(idx.size, dtype=np.float64)
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        ranks = rng.permutation(members.size)
        key[members] = (ranks + rng.random(members.size)) / members.size
    return idx[np.argsort(key, kind="stable")]


def _cap(idx: np.ndarray, labels: np.ndarray, max_n: int | None, rng: np.random.Generator,
         notes: list[str], what: str) -> np.ndarray:
    if not max_n or idx.size <= max_n:
        return idx
    notes.append(f"{what}: kept a stratified {max_n} of {idx.size} images (max_train_samples)")
    return np.sort(stratified_order(idx, labels, rng)[:max_n])


def _carve(idx: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n = max(1, round(CARVE_FRACTION * idx.size))
    if idx.size - n < 2:
        raise SplitError(f"too few training images ({idx.size}) to carve a hold-out set from")
    order = stratified_order(idx, labels, rng)
    return np.sort(order[n:]), np.sort(order[:n])


def holdout_split(split: np.ndarray, labels: np.ndarray, *, max_train: int | None = None,
                  seed: int = 0) -> Split:
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    train = np.flatnonzero(split == "train")
    val, test = np.flatnonzero(split == "val"), np.flatnonzero(split == "test")
    if test.size == 0:
        train, test = _carve(train, labels, rng)
        notes.append(f"no test split: carved {test.size} images from train")
    if val.size == 0:
        train, val = _carve(train, labels, rng)
        notes.append(f"no val split: carved {val.size} images from train")
    train = _cap(train, labels, max_train, rng, notes, "train")
    return Split(train=train, val=val, test=test, notes=notes)


def kfold_split(split: np.ndarray, labels: np.ndarray, k: int, *, max_train: int | None = None,
                seed: int = 0) -> Folds:
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    pool = np.flatnonzero((split == "train") | (split == "val"))
    test = np.flatnonzero(split == "test")
    if test.size == 0:
        pool, test = _carve(pool, labels, rng)
        notes.append(f"no test split: carved {test.size} images from train")
    pool = _cap(pool, labels, max_train, rng, notes, "train+val")
    if pool.size < 2 * k:
        raise SplitError(f"{k}-fold cross-validation needs at least {2 * k} images, got {pool.size}")
    order = stratified_order(pool, labels, rng)
    fold_of = np.arange(order.size) % k
    folds = [(np.sort(order[fold_of != f]), np.sort(order[fold_of == f])) for f in range(k)]
    return Folds(folds=folds, test=test, notes=notes)
