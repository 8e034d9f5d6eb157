"""A smooth surrogate for ordering candidate configs: a Gaussian process over the same feature table as
the boosters (the `smooth` variants, variants.py).

Why: the boosters are piecewise constant, so their argmax over a space the runs covered thinly lands
anywhere inside the best box of splits, often far from any run (issue 14: HPOBench with 60 logged
configs per dataset, the argmax's median percentile 0.875). A GP's mean falls back to the prior away
from the runs and interpolates between good ones; ordering by its lower confidence bound
(mean - `kappa` * std) prefers configs the evidence supports.

Inputs: every column scaled to [0, 1] over the runs (log10 first where the layout flags decades),
columns that never vary dropped, a missing value at the middle. Kernel: constant x Matern 5/2 with one
length scale per column (ARD) + white noise, hyperparameters by maximum likelihood (scikit-optimize's
GaussianProcessRegressor) on `OPT_ROWS` runs, the GP conditioned on up to `MAX_ROWS` (a fit in seconds). The fitted GP is
kept as plain arrays (the training inputs, the normalised targets, the kernel's parameters) and
predicted here in numpy: `recommend` never imports scikit-learn, and the saved file is an `.npz` read
with `allow_pickle=False` (an artifact from W&B never runs code on load).
Tested in tests/knowledge/meta_learner/test_smooth.py (equal to scikit-learn's own predict).
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MAX_ROWS = 800
"""Runs the GP is conditioned on (a seeded sample beyond): scoring a 30,000-config grid costs ~0.3 s
at 800 (2 cores), 1.5 s at 1,400 (the kernel matrix and the factor grow with them)."""
OPT_ROWS = 300
"""Runs the kernel's hyperparameters are fitted on (maximum likelihood costs a cubic solve and a
gradient per length scale at every step: 23 s on 800 runs x 18 columns, ~1 s on 300)."""
MAX_ITER = 60
"""Optimiser iterations for the kernel's hyperparameters: the likelihood flattens well before."""
BOUNDS = {"constant": (1e-2, 1e2), "length": (1e-2, 1e2), "noise": (1e-4, 1.0)}


@dataclass
class SmoothGP:
    """A fitted GP on the percentile target: score(X) = mean - kappa * std, X in the layout's encoding."""

    log: np.ndarray  # bool per layout column: log10 before scaling
    keep: np.ndarray  # bool per layout column: used (varied in the runs)
    lo: np.ndarray  # per kept column, after log10
    span: np.ndarray
    X: np.ndarray  # scaled training inputs (rows x kept columns)
    y: np.ndarray  # normalised targets
    constant: float
    length: np.ndarray
    noise: float
    y_mean: float
    y_std: float
    kappa: float = 1.0
    _chol: np.ndarray | None = field(default=None, repr=False)  # the inverse of the kernel's Cholesky factor
    _alpha: np.ndarray | None = field(default=None, repr=False)

    def scale(self, X: np.ndarray) -> np.ndarray:
        Z = (_log10_columns(np.asarray(X)[:, self.keep], self.log[self.keep]) - self.lo) / self.span
        return np.where(np.isfinite(Z), Z, 0.5)

    def _kernel(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        return matern52(A, B, self.length, self.constant)

    def _prepare(self) -> tuple[np.ndarray, np.ndarray]:
        """The inverse Cholesky factor of the training kernel and the weights of the mean (once per load)."""
        if self._chol is None or self._alpha is None:
            K = self._kernel(self.X, self.X) + (self.noise + 1e-10) * np.eye(len(self.X))
            self._chol = np.linalg.inv(np.linalg.cholesky(K))  # triangular inverse: std is a matrix product
            self._alpha = self._chol.T @ (self._chol @ self.y)
        return self._chol, self._alpha

    def predict(self, X: np.ndarray, batch: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the percentile (noise included, as scikit-learn's predict)."""
        mean, std = self._moments(self.scale(X), batch)
        return mean * self.y_std + self.y_mean, std * self.y_std

    def _moments(self, Z: np.ndarray, batch: int, std: bool = True) -> tuple[np.ndarray, np.ndarray]:
        Linv, alpha = self._prepare()
        mean, sd = np.empty(len(Z)), np.full(len(Z), math.sqrt(self.constant + self.noise))
        for s in range(0, len(Z), batch):  # a grid of 60,000 configs x 800 runs in pieces
            k = self._kernel(Z[s:s + batch], self.X)
            mean[s:s + batch] = k @ alpha
            if std:
                v = Linv @ k.T
                sd[s:s + batch] = np.sqrt(np.maximum(self.constant + self.noise - (v * v).sum(0), 0.0))
        return mean, sd

    def score(self, X: np.ndarray, offset: np.ndarray | None = None, weight: float = 1.0,
              exact: int = 2048) -> np.ndarray:
        """(1 - weight) * offset + weight * (mean - kappa * std), the order of candidates. The std (the
        costly part: a grid of 60,000 configs) is computed for the `exact` best by the upper bound
        (the score with std 0) and taken at its prior maximum elsewhere, so the top of the order is
        exact wherever the bound can change it and the rest keeps a lower bound."""
        Z = self.scale(X)
        mean, sd = self._moments(Z, 4096, std=len(Z) <= exact)
        base = np.zeros(len(Z)) if offset is None else (1.0 - weight) * np.asarray(offset, dtype=np.float64)
        upper = base + weight * (mean * self.y_std + self.y_mean)
        if len(Z) > exact:
            top = np.argsort(-upper, kind="stable")[:exact]
            sd[top] = self._moments(Z[top], 4096)[1]
        return upper - weight * self.kappa * sd * self.y_std

    def save(self, path: Path) -> None:
        """Plain arrays, byte-stable (write_arrays)."""
        write_arrays(path, {"log": self.log, "keep": self.keep, "lo": self.lo, "span": self.span, "X": self.X,
                            "y": self.y, "length": self.length,
                            "scalars": np.array([self.constant, self.noise, self.y_mean, self.y_std, self.kappa])})

    @classmethod
    def load(cls, path: Path) -> SmoothGP:
        """Read and check a saved GP; a damaged file raises here (ValueError, OSError, LinAlgError), not at
        the first prediction, so the knowledge loader reports it as one unreadable cache file."""
        with np.load(path, allow_pickle=False) as f:
            constant, noise, y_mean, y_std, kappa = (float(v) for v in f["scalars"])
            gp = cls(log=f["log"].astype(bool), keep=f["keep"].astype(bool), lo=f["lo"], span=f["span"], X=f["X"],
                     y=f["y"], length=f["length"], constant=constant, noise=noise, y_mean=y_mean, y_std=y_std,
                     kappa=kappa)
        d = int(gp.keep.sum())
        shapes_ok = (gp.X.ndim == 2 and gp.X.shape == (len(gp.y), d) and len(gp.log) == len(gp.keep)
                     and len(gp.lo) == len(gp.span) == len(gp.length) == d)
        numbers = np.concatenate([gp.X.ravel(), gp.y, gp.lo, gp.span, gp.length, [constant, noise, y_mean, y_std]])
        if not shapes_ok or not np.isfinite(numbers).all() or min(constant, noise, y_std, *gp.length, 1.0) <= 0:
            raise ValueError(f"{path.name}: the Gaussian process's arrays do not fit together")
        gp._prepare()
        return gp


def fit_smooth(X: np.ndarray, y: np.ndarray, log: np.ndarray, kappa: float = 1.0, seed: int = 0,
               max_rows: int = MAX_ROWS, opt_rows: int = OPT_ROWS, max_iter: int = MAX_ITER,
               like: SmoothGP | None = None, groups: np.ndarray | None = None) -> SmoothGP:
    """Fit on the runs' encoded rows `X` and percentiles `y` (rows with a NaN target dropped): the kernel's
    hyperparameters by maximum likelihood on `opt_rows` of them, then the GP conditioned on `max_rows`.
    `like`: reuse that GP's hyperparameters instead of fitting them (leave-one-dataset-out folds).
    `groups` (a dataset index per row): the hyperparameters of independent GPs, one per dataset, sharing
    one kernel: the likelihood is the sum over whole datasets (a far-apart dataset coordinate makes the
    kernel block-diagonal), so datasets that disagree about where the good configs are do not read as noise."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(y)
    X, y = X[ok], y[ok]
    g = None if groups is None else np.asarray(groups)[ok]
    rng = np.random.default_rng(seed)
    if len(y) > max_rows:
        rows = np.sort(rng.choice(len(y), max_rows, replace=False))
        X, y, g = X[rows], y[rows], None if g is None else g[rows]
    gp = _scaled(X, np.asarray(log, dtype=bool), kappa)
    Z = gp.scale(X)
    if like is not None and not (gp.keep & ~like.keep).any():  # a fold varies a subset of what the whole varies
        gp.constant, gp.noise = like.constant, like.noise
        gp.length = like.length[np.searchsorted(np.flatnonzero(like.keep), np.flatnonzero(gp.keep))].copy()
    elif g is not None:
        sub = _whole_groups(g, opt_rows, rng)
        apart = (np.unique(g[sub], return_inverse=True)[1] * 1e4)[:, None]  # > 100 length scales apart: independent
        gp.constant, length, gp.noise = _hyperparameters(np.hstack([Z[sub], apart]), y[sub], seed, max_iter)
        gp.length = length[:-1]
    else:
        sub = np.sort(rng.choice(len(y), opt_rows, replace=False)) if len(y) > opt_rows else np.arange(len(y))
        gp.constant, gp.length, gp.noise = _hyperparameters(Z[sub], y[sub], seed, max_iter)
    gp.X = Z
    gp.y_mean, gp.y_std = float(y.mean()), float(y.std()) or 1.0  # normalize_y's own normaliser
    gp.y = (y - gp.y_mean) / gp.y_std
    return gp


def write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz that is the same bytes for the same arrays (np.savez stamps the time: a new artifact
    version for an unchanged re-run), each array in NumPy's own format, no pickles."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            with archive.open(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), "w") as f:
                np.lib.format.write_array(f, np.ascontiguousarray(array), allow_pickle=False)


def matern52(A: np.ndarray, B: np.ndarray, length: np.ndarray, constant: float) -> np.ndarray:
    """constant x Matern 5/2 with ARD length scales, between the rows of A and of B (scaled inputs)."""
    a, b = A / length, B / length
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    r = math.sqrt(5.0) * np.sqrt(np.maximum(sq, 0.0))
    return constant * (1.0 + r + r * r / 3.0) * np.exp(-r)


def _whole_groups(groups: np.ndarray, rows: int, rng: np.random.Generator) -> np.ndarray:
    """Row indices of groups, a seeded order of them, until about `rows`: each group's runs together (its
    likelihood needs them), at most rows // 2 of one group, at least two groups when there are two."""
    chosen: list[np.ndarray] = []
    for k, grp in enumerate(rng.permutation(np.unique(groups))):
        if k >= 2 and sum(map(len, chosen)) >= rows:
            break
        members = np.flatnonzero(groups == grp)
        cap = max(rows // 2, 2)  # one big dataset must not fill the budget alone
        chosen.append(np.sort(rng.choice(members, cap, replace=False)) if len(members) > cap else members)
    return np.sort(np.concatenate(chosen))


def _log10_columns(X: np.ndarray, log: np.ndarray) -> np.ndarray:
    """A float copy of X with the flagged columns on log10 (a value <= 0 there: NaN, i.e. missing)."""
    Z = np.array(X, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        Z[:, log] = np.log10(np.where(Z[:, log] > 0, Z[:, log], np.nan))
    return Z


def _scaled(X: np.ndarray, log: np.ndarray, kappa: float) -> SmoothGP:
    """An unfitted GP holding the scaling of the runs' columns: log10 where flagged, [0, 1], unvaried ones dropped."""
    Z = _log10_columns(X, log)
    Z = np.where(np.isfinite(Z), Z, np.nan)
    seen = np.isfinite(Z).any(axis=0)
    lo = np.where(seen, np.nanmin(np.where(seen, Z, 0.0), axis=0), 0.0)
    hi = np.where(seen, np.nanmax(np.where(seen, Z, 0.0), axis=0), 0.0)
    keep = seen & (hi > lo)
    if not keep.any():  # nothing varies: one constant column, every candidate scores the same
        keep[0], hi[0] = True, lo[0] + 1.0
    d = int(keep.sum())
    return SmoothGP(log=log, keep=keep, lo=lo[keep], span=(hi - lo)[keep], X=np.empty((0, d)), y=np.empty(0),
                    constant=1.0, length=np.ones(d), noise=0.1, y_mean=0.0, y_std=1.0, kappa=kappa)


def _hyperparameters(Z: np.ndarray, y: np.ndarray, seed: int, max_iter: int) -> tuple[float, np.ndarray, float]:
    """Constant, ARD length scales and noise by maximum likelihood (scikit-optimize's GP, L-BFGS-B)."""
    import warnings

    from scipy.optimize import minimize
    from skopt.learning import GaussianProcessRegressor
    from skopt.learning.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    kernel = (ConstantKernel(1.0, BOUNDS["constant"]) * Matern(np.ones(Z.shape[1]), BOUNDS["length"], nu=2.5)
              + WhiteKernel(0.1, BOUNDS["noise"]))

    def optimizer(obj: Any, theta: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, float]:
        res = minimize(obj, theta, method="L-BFGS-B", jac=True, bounds=bounds, options={"maxiter": max_iter})
        return res.x, float(res.fun)

    model = GaussianProcessRegressor(kernel=kernel, normalize_y=True, optimizer=optimizer, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a length scale at its bound: that column does not matter
        model.fit(Z, y)
    fitted = model.kernel_
    return (float(fitted.k1.k1.constant_value), np.atleast_1d(np.asarray(fitted.k1.k2.length_scale, dtype=np.float64)),
            float(fitted.k2.noise_level))
