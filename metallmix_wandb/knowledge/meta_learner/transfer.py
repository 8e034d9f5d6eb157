"""Transfer from past datasets one surface at a time: a Gaussian process per past dataset over the config
columns, all sharing one kernel, and the order of candidates their mean weighted by how close each
dataset is to the new one (the `transfer` variants, variants.py).

Why: one model over meta-features x config (the boosters, smooth.py's GP) must learn from a handful of
datasets how the best config moves with the meta-features, and on the development benchmark its argmax
often landed where no past dataset was good. Here every past dataset keeps its own smooth picture of
where its good configs are (its within-dataset percentile, interpolated between its runs), and the new
dataset's order is a consensus of those pictures, leaning towards the datasets whose meta-features are
close (`locality` of a Gaussian kernel mixed with uniform weight, variants.locality_weights). The same
surfaces give the portfolio (variants.greedy_cover) its per-dataset predictions.

The kernel's hyperparameters are fitted once on the pooled runs (smooth.fit_smooth: maximum likelihood
on the within-dataset percentiles); each dataset's GP is conditioned on its own runs (at most
`MAX_ROWS` in all). Only the posterior means are used (cheap: one kernel row per candidate). Saved as
plain arrays, read with `allow_pickle=False`, predicted in numpy (no scikit-learn at `recommend`).
Tested in tests/knowledge/meta_learner/test_transfer.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from metallmix_wandb.knowledge.meta_learner.smooth import SmoothGP, fit_smooth, matern52, write_arrays
from metallmix_wandb.knowledge.meta_learner.variants import dataset_distances, locality_weights

MAX_ROWS = 2000
"""Runs the per-dataset GPs are conditioned on in all (each dataset at most MAX_ROWS / datasets, at
least MIN_PER, a seeded sample beyond): scoring costs one kernel row over these per candidate (the
argmax over a 30,000-config grid behind 1,600 runs: 0.6 s on 2 cores; 200 datasets x 20 runs: 1.0 s)."""
MIN_PER = 5
BOOTSTRAPS = 256
"""Resamples of the trials behind `TransferGP.adapt`'s weights (RGPE's bootstrap of the ranking loss)."""


@dataclass
class TransferGP:
    """Per-dataset GP means over the config columns of the layout, combined by meta-feature closeness."""

    shape: SmoothGP  # the config columns' scaling and the shared kernel (its X, y unused)
    cols: np.ndarray  # bool per layout column: the config columns
    meta_cols: np.ndarray  # bool per layout column: the meta-feature columns
    meta_log: np.ndarray  # per meta column: log10 in the distance
    metas: np.ndarray  # per past dataset, its meta-feature row (NaN = unknown)
    Z: np.ndarray  # scaled training rows, all datasets
    y: np.ndarray  # per row, its percentile normalised within its dataset
    groups: np.ndarray  # per row, its dataset's index
    y_mean: np.ndarray  # per dataset
    y_std: np.ndarray
    locality: float = 0.5
    spread: float = 0.0  # the order is the weighted mean less `spread` x the weighted std across the surfaces
    fixed: np.ndarray | None = None  # per dataset, weights set by `adapt` (the trials') instead of closeness
    floor: np.ndarray | None = None  # per dataset, set by `adapt`: its surface's best value over the trials
    _alpha: np.ndarray | None = field(default=None, repr=False)  # rows x datasets: each dataset's weights

    @property
    def datasets(self) -> int:
        return len(self.y_mean)

    def _prepare(self) -> np.ndarray:
        """Each dataset's GP conditioned on its rows (once per load): the weights of its mean, as a
        column of a rows x datasets matrix so every surface is one product."""
        if self._alpha is None:
            alpha = np.zeros((len(self.Z), self.datasets))
            for g in range(self.datasets):
                rows = np.flatnonzero(self.groups == g)
                if rows.size:
                    Zg = self.Z[rows]
                    K = matern52(Zg, Zg, self.shape.length, self.shape.constant) + (self.shape.noise + 1e-10) * np.eye(len(rows))
                    alpha[rows, g] = np.linalg.solve(K, self.y[rows])
            self._alpha = alpha
        return self._alpha

    def _kernel_products(self, X: np.ndarray, coef: np.ndarray, dtype: type = np.float64,
                         batch: int = 4096) -> np.ndarray:
        """Candidates x columns of `coef`: the kernel rows between the candidates and the training rows
        (in `dtype`, in batches) times `coef` (rows x columns), summed in float64."""
        Z = self.shape.scale(np.asarray(X, dtype=np.float64)[:, self.cols]).astype(dtype)
        rows, length = self.Z.astype(dtype), self.shape.length.astype(dtype)
        out = np.empty((len(Z), coef.shape[1]))
        for s in range(0, len(Z), batch):
            out[s:s + batch] = matern52(Z[s:s + batch], rows, length, self.shape.constant).astype(np.float64, copy=False) @ coef
        return out

    def surfaces(self, X: np.ndarray, batch: int = 4096) -> np.ndarray:
        """Candidates x past datasets: each dataset's predicted percentile of each candidate."""
        return self._kernel_products(X, self._prepare(), batch=batch) * self.y_std + self.y_mean

    def weights(self, X: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
        """Per past dataset, its weight for the new dataset (the meta-features of the candidates' rows:
        one dataset's candidates share them). `exclude`: datasets given no weight (a held-out fold)."""
        w = np.ones(self.datasets)
        if self.fixed is not None:
            w = self.fixed.copy()
        elif self.meta_cols.any() and self.datasets >= 2 and len(X):
            target = np.asarray(X, dtype=np.float64)[0, self.meta_cols]
            w = locality_weights(dataset_distances(target, self.metas, self.meta_log), self.locality, 1.0)
        if exclude is not None:
            w[exclude] = 0.0
        return w

    def score(self, X: np.ndarray, offset: np.ndarray | None = None, weight: float = 1.0,
              exclude: np.ndarray | None = None) -> np.ndarray:
        """(1 - weight) * offset + weight * the weighted mean of the past datasets' surfaces."""
        w = self.weights(X, exclude)
        w = w / max(float(w.sum()), 1e-12)
        # the weighted mean of the surfaces is one GP-like mean: a single weight vector over all rows, so a
        # grid costs one kernel row per candidate whatever the number of past datasets; with `spread`, the
        # surfaces themselves (one column each) for their weighted std. The kernel in float32 (4x faster on a 30,000-config grid: its exp and sqrt dominate), the sum in float64
        alpha = self._prepare()
        if self.spread > 0:
            per = self._kernel_products(X, alpha * self.y_std, np.float32) + self.y_mean
            mean = per @ w
            consensus = mean - self.spread * np.sqrt(np.clip(((per - mean[:, None]) ** 2) @ w, 0.0, None))
        else:
            consensus = self._kernel_products(X, (alpha @ (w * self.y_std))[:, None], np.float32)[:, 0]
            consensus += float(w @ self.y_mean)
        base = 0.0 if offset is None else (1.0 - weight) * np.asarray(offset, dtype=np.float64)
        return base + weight * consensus

    def adapt(self, X_t: np.ndarray, y_t: np.ndarray, seed: int = 0) -> TransferGP:
        """The surfaces re-weighted by the new dataset's own trials (`tune`), plus a GP on the trials
        themselves: RGPE (Feurer et al. 2018, "Scalable meta-learning for Bayesian optimization"). Each
        surface's ranking loss is the number of trial pairs it orders the wrong way (the trials' GP: its
        leave-one-out predictions); over `BOOTSTRAPS` resamples of the trials, a surface's weight is the
        share of resamples where its loss is the least (ties shared in proportion to the closeness
        weights). Until two trials differ this GP is returned as it is (measured: a cover from trial 2
        on, the closeness weights and the first trial as its floor, lost to the refitted order;
        benchmarks/results/issue14_matrix.md, stop 24). `X_t`: the trials' encoded rows (this dataset's
        meta-features), `y_t`: their percentiles on this dataset (crashed = the worst)."""
        X_t, y_t = np.asarray(X_t, dtype=np.float64), np.asarray(y_t, dtype=np.float64)
        prior = self.weights(X_t[:1])
        ok = np.isfinite(y_t)
        X_t, y_t = X_t[ok], y_t[ok]
        if len(y_t) < 2 or np.ptp(y_t) <= 0:  # nothing to rank by yet: the closeness weights stand
            return self
        Z_t = self.shape.scale(X_t[:, self.cols])
        mean_t, std_t = float(y_t.mean()), float(y_t.std()) or 1.0
        own = (y_t - mean_t) / std_t
        K = matern52(Z_t, Z_t, self.shape.length, self.shape.constant) + (self.shape.noise + 1e-10) * np.eye(len(y_t))
        Kinv = np.linalg.inv(K)
        alpha_own = Kinv @ own  # the trials' GP's mean weights
        loo = own - alpha_own / np.diag(Kinv)  # the trials' GP without each trial (Rasmussen & Williams 5.12)
        preds = np.column_stack([self.surfaces(X_t), loo])  # trials x (past datasets + the trials' own)
        share = np.r_[prior, float(np.median(prior))]
        rng = np.random.default_rng(seed)
        wins = np.zeros(preds.shape[1])
        for _ in range(BOOTSTRAPS):
            idx = rng.integers(0, len(y_t), len(y_t))
            dy = np.sign(y_t[idx][:, None] - y_t[idx][None, :])
            order = np.sign(preds[idx][:, None, :] - preds[idx][None, :, :])
            wrong = ((order * dy[:, :, None]) < 0).sum(axis=(0, 1))  # per surface, pairs it misorders
            best = share * (wrong == wrong.min())
            wins += best / best.sum()
        rows = np.concatenate([self.Z, Z_t])
        adapted = TransferGP(shape=self.shape, cols=self.cols, meta_cols=self.meta_cols, meta_log=self.meta_log,
                             metas=np.vstack([self.metas, X_t[:1, self.meta_cols]]), Z=rows, y=np.r_[self.y, own],
                             groups=np.r_[self.groups, np.full(len(y_t), self.datasets)],
                             y_mean=np.r_[self.y_mean, mean_t], y_std=np.r_[self.y_std, std_t],
                             locality=self.locality, spread=self.spread, fixed=wins / BOOTSTRAPS)
        # the past datasets' GPs are conditioned as before: their weights are reused, not solved again per trial
        alpha = np.zeros((len(rows), self.datasets + 1))
        alpha[:len(self.Z), :-1], alpha[len(self.Z):, -1] = self._prepare(), alpha_own
        adapted._alpha = alpha
        adapted.floor = adapted.surfaces(X_t).max(axis=0)
        return adapted

    def gains(self, X: np.ndarray) -> np.ndarray:
        """Per candidate, what it adds over the trials (`adapt`'s `floor`) to the weighted sum over the
        surfaces of the best predicted percentile: the portfolio's greedy step (variants.greedy_cover),
        its weights learned from the trials. Zero for every candidate before `adapt`."""
        if self.floor is None or self.fixed is None:
            return np.zeros(len(X))
        return (np.maximum(self.surfaces(X), self.floor) - self.floor) @ self.fixed

    def save(self, path: Path) -> None:
        """Plain arrays, byte-stable (smooth.write_arrays)."""
        s = self.shape
        write_arrays(path, {
            "log": s.log, "keep": s.keep, "lo": s.lo, "span": s.span, "length": s.length, "cols": self.cols,
            "meta_cols": self.meta_cols, "meta_log": self.meta_log, "metas": self.metas, "Z": self.Z, "y": self.y,
            "groups": self.groups, "y_mean": self.y_mean, "y_std": self.y_std,
            "scalars": np.array([s.constant, s.noise, self.locality])})

    @classmethod
    def load(cls, path: Path) -> TransferGP:
        """Read and check a saved transfer GP; a damaged file raises here (ValueError, OSError,
        LinAlgError, KeyError), not at the first prediction."""
        with np.load(path, allow_pickle=False) as f:
            constant, noise, locality = (float(v) for v in f["scalars"])
            keep = f["keep"].astype(bool)
            shape = SmoothGP(log=f["log"].astype(bool), keep=keep, lo=f["lo"], span=f["span"],
                             X=np.empty((0, int(keep.sum()))), y=np.empty(0), constant=constant, length=f["length"],
                             noise=noise, y_mean=0.0, y_std=1.0)
            gp = cls(shape=shape, cols=f["cols"].astype(bool), meta_cols=f["meta_cols"].astype(bool),
                     meta_log=f["meta_log"].astype(bool), metas=f["metas"], Z=f["Z"], y=f["y"],
                     groups=f["groups"].astype(np.int64), y_mean=f["y_mean"], y_std=f["y_std"], locality=locality)
        d, g = int(keep.sum()), len(gp.y_mean)
        shapes_ok = (len(shape.log) == len(keep) == int(gp.cols.sum()) and len(shape.lo) == len(shape.span)
                     == len(shape.length) == d and gp.Z.shape == (len(gp.y), d) and len(gp.groups) == len(gp.y)
                     and len(gp.y_std) == g and gp.metas.shape == (g, int(gp.meta_cols.sum()))
                     and len(gp.meta_log) == gp.metas.shape[1] and len(gp.cols) == len(gp.meta_cols)
                     and (gp.groups.size == 0 or (gp.groups.min() >= 0 and gp.groups.max() < g)))
        numbers = np.concatenate([gp.Z.ravel(), gp.y, shape.lo, shape.span, shape.length, gp.y_mean, gp.y_std,
                                  [constant, noise, locality]])
        if not shapes_ok or not np.isfinite(numbers).all() or min(constant, noise, *shape.length, *gp.y_std, 1.0) <= 0:
            raise ValueError(f"{path.name}: the transfer Gaussian process's arrays do not fit together")
        gp._prepare()
        return gp


def fit_transfer(X: np.ndarray, score: np.ndarray, groups: np.ndarray, cols: np.ndarray, meta_cols: np.ndarray,
                 log: np.ndarray, locality: float = 0.5, seed: int = 0, max_rows: int = MAX_ROWS,
                 grouped: bool = False, spread: float = 0.0) -> TransferGP:
    """Fit on the runs' encoded rows `X`, their within-dataset percentiles `score` and dataset index
    `groups` (0..G-1); `cols` / `meta_cols` pick the layout's config / meta-feature columns, `log` its
    log10 flags. `grouped`: the shared kernel's likelihood summed over the datasets (smooth.fit_smooth's
    `groups`), else of all runs pooled, whose noise term then also absorbs how much the datasets disagree
    (smoother surfaces: it won on the development benchmark). When the datasets disagree so much that
    the pooled fit calls most of the variance noise (signal variance below the noise), its surfaces are
    flat with a spike at each run; the kernel is then fitted per dataset instead. Rows with a NaN target
    are dropped."""
    X, score, groups = np.asarray(X, dtype=np.float64), np.asarray(score, dtype=np.float64), np.asarray(groups)
    n_groups = int(groups.max()) + 1 if groups.size else 0
    firsts = [np.flatnonzero(groups == g) for g in range(n_groups)]
    metas = np.array([X[r[0], meta_cols] if r.size else np.full(int(meta_cols.sum()), np.nan) for r in firsts])
    ok = np.isfinite(score)
    rng = np.random.default_rng(seed)
    per = max(MIN_PER, max_rows // max(n_groups, 1))
    keep_rows: list[np.ndarray] = []
    for g in range(n_groups):
        rows = np.flatnonzero(ok & (groups == g))
        keep_rows.append(np.sort(rng.choice(rows, per, replace=False)) if len(rows) > per else rows)
    rows = np.concatenate(keep_rows) if keep_rows else np.empty(0, dtype=np.int64)
    shape = fit_smooth(X[ok][:, cols], score[ok], log[cols], seed=seed, groups=groups[ok] if grouped else None)
    if not grouped and shape.constant < shape.noise:  # the pooled runs read as mostly noise
        shape = fit_smooth(X[ok][:, cols], score[ok], log[cols], seed=seed, groups=groups[ok])
    y_mean, y_std, pieces = np.full(n_groups, 0.5), np.ones(n_groups), []
    for g, r in enumerate(keep_rows):  # each dataset's percentiles normalised by its own mean and spread
        if r.size:
            y_mean[g], y_std[g] = float(score[r].mean()), float(score[r].std()) or 1.0
        pieces.append((score[r] - y_mean[g]) / y_std[g])
    y = np.concatenate(pieces) if pieces else np.empty(0)
    return TransferGP(shape=shape, cols=np.asarray(cols, dtype=bool), meta_cols=np.asarray(meta_cols, dtype=bool),
                      meta_log=np.asarray(log, dtype=bool)[meta_cols], metas=metas.reshape(n_groups, -1),
                      Z=shape.scale(X[rows][:, cols]), y=y, groups=groups[rows].astype(np.int64),
                      y_mean=y_mean, y_std=y_std, locality=locality, spread=spread)
