"""The boosters behind the meta-learner (model.py): their parameters, the fits of each target, and the
leave-one-dataset-out refits that measure quality (quality.py scores them). Split from model.py so the
class there holds only what a fitted learner does (predict, choose, save, load).
Tested through tests/knowledge/meta_learner/test_model.py and test_variants.py.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from metallmix_wandb.knowledge.meta_learner.features import TrainingTable
from metallmix_wandb.knowledge.meta_learner.pool import blend
from metallmix_wandb.knowledge.meta_learner.quality import LodoQuality, fold_assignment, lodo_quality
from metallmix_wandb.knowledge.meta_learner.smooth import SmoothGP, fit_smooth
from metallmix_wandb.knowledge.meta_learner.transfer import TransferGP
from metallmix_wandb.knowledge.meta_learner.variants import (
    DEFAULT,
    LearnerSettings,
    dataset_distances,
    locality_weights,
    relevance,
)
from metallmix_wandb.knowledge.records import MetaValue

if TYPE_CHECKING:
    import xgboost as xgb

# OpenMP threads that spin while waiting made a 2-thread fit 20x slower (27 s instead of 1.3 s) on a
# busy 2-core machine; passive waiting costs nothing measurable when the cores are free. Only takes
# effect when set before the OpenMP runtime starts (i.e. before xgboost is first imported).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

QUANTILES = (0.1, 0.5, 0.9)
ROUNDS = 300
MAX_FOLDS = 10


def booster_params(seed: int, n_jobs: int) -> dict[str, Any]:
    """Shallow trees, shrinkage and row/column subsampling: the runs of a project number in the
    hundreds to thousands, and the model must not memorise a few datasets."""
    return {"tree_method": "hist", "max_depth": 4, "eta": 0.05, "subsample": 0.8, "colsample_bytree": 0.8,
            "min_child_weight": 1.0, "lambda": 1.0, "seed": seed, "nthread": n_jobs}


def train_booster(X: np.ndarray, y: np.ndarray, params: dict[str, Any], rounds: int, weight: np.ndarray | None = None,
           **extra: Any) -> xgb.Booster:
    import xgboost as xgb

    ok = np.isfinite(y)
    dtrain = xgb.DMatrix(X[ok], label=y[ok], missing=np.nan, weight=None if weight is None else weight[ok])
    return xgb.train({**params, **extra}, dtrain, num_boost_round=rounds)


def fit_order(X: np.ndarray, score: np.ndarray, groups: np.ndarray, settings: LearnerSettings,
               params: dict[str, Any], rounds: int, weight: np.ndarray | None = None) -> xgb.Booster:
    """What orders candidates when it is not the percentile booster: the median (`reg:quantileerror`,
    alpha 0.5) of the percentile, or a learning-to-rank booster grouped by dataset (rows sorted by group)."""
    import xgboost as xgb

    if settings.objective == "median":
        return train_booster(X, score, params, rounds, weight, objective="reg:quantileerror", quantile_alpha=0.5)
    if settings.objective == "top":
        hit = np.where(np.isfinite(score), (score >= settings.top).astype(np.float64), np.nan)
        return train_booster(X, hit, params, rounds, weight, objective="binary:logistic")
    order = np.argsort(groups, kind="stable")
    label = relevance(score[order], settings.relevance_levels)
    dtrain = xgb.DMatrix(X[order], label=label, qid=groups[order], missing=np.nan)
    if weight is not None:  # ranking weights are per group
        dtrain.set_weight(np.array([weight[groups == g][0] for g in np.unique(groups)]))
    objective = "rank:pairwise" if settings.objective == "pairwise" else "rank:ndcg"
    return xgb.train({**params, "objective": objective}, dtrain, num_boost_round=rounds)


def row_weights(table: TrainingTable, meta: Mapping[str, MetaValue], settings: LearnerSettings) -> np.ndarray | None:
    """Per-row weights from how close each run's dataset is to a new one (None: one global model)."""
    if settings.locality <= 0 or len(table.datasets) < 2:
        return None
    cols = np.array([c.source == "meta" for c in table.layout.columns])
    if not cols.any():
        return None
    logs = np.array([c.log for c in table.layout.columns])[cols]
    target = table.layout.row(meta, {})[cols]
    firsts = np.array([np.flatnonzero(table.groups == g)[0] for g in range(len(table.datasets))])
    w = locality_weights(dataset_distances(target, table.X[firsts][:, cols], logs),
                         settings.locality, settings.bandwidth)
    return w[table.groups]


def fit_quantile(X: np.ndarray, y: np.ndarray, params: dict[str, Any], rounds: int) -> xgb.Booster:
    return train_booster(X, y, params, rounds, objective="reg:quantileerror", quantile_alpha=np.array(QUANTILES))


def interval(point: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q = np.sort(q.reshape(len(point), -1), axis=1)  # quantile crossing is possible: sort
    return np.minimum(q[:, 0], point), np.maximum(q[:, -1], point)


def fold_workers() -> int:
    """LODO folds fitted at once: the cores this process may use, or env METALLMIX_LODO_WORKERS."""
    env = os.environ.get("METALLMIX_LODO_WORKERS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    affinity = getattr(os, "sched_getaffinity", None)  # Linux only
    return len(affinity(0)) if affinity else os.cpu_count() or 1


def lodo(table: TrainingTable, params: dict[str, Any], rounds: int,
         max_folds: int = MAX_FOLDS, settings: LearnerSettings = DEFAULT,
         smooth: SmoothGP | TransferGP | None = None) -> LodoQuality:
    """Leave-one-dataset-out (datasets dealt over at most `max_folds` folds): every run is predicted
    by rank/raw/quantile models that never saw its dataset. `smooth`: the full fit's Gaussian process,
    whose kernel hyperparameters each fold's GP reuses (conditioned on the fold's runs only: fitting
    them per fold cost 10-20 s of a 1,000-run sync); a TransferGP's held-out datasets just get no
    weight (each past dataset's GP saw only its own runs)."""
    if len(table.datasets) < 2:
        return LodoQuality(measured=False, runs=len(table.score), datasets=len(table.datasets),
                           note="one dataset only: leave-one-dataset-out needs at least two, so how well "
                                "the model transfers to a new dataset cannot be measured")
    fold_of = fold_assignment(len(table.datasets), max_folds)[table.groups]
    n = len(table.score)
    pred, raw, low, high, order = np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    gp_score = np.full(n, np.nan)

    def fit_fold(fold: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        train, test = fold_of != fold, fold_of == fold
        Xt = np.ascontiguousarray(table.X[test], dtype=np.float32)
        rank = train_booster(table.X[train], table.score[train], params, rounds)
        out = {"pred": rank.inplace_predict(Xt, missing=np.nan)}
        out["order"] = out["pred"]
        if settings.objective != "percentile":
            ranker = fit_order(table.X[train], table.score[train], table.groups[train], settings, params, rounds)
            out["order"] = ranker.inplace_predict(Xt, missing=np.nan)
        if isinstance(smooth, TransferGP):  # the other datasets' surfaces, blended into the order below
            out["order"] = np.clip(out["order"], 0.0, 1.0)
            held, gp_out = np.unique(table.groups[test]), np.empty(len(Xt))
            for g in held:
                rows = table.groups[test] == g
                gp_out[rows] = smooth.score(Xt[rows], exclude=held)
            out["gp"] = gp_out
        elif smooth is not None:  # the fold's own Gaussian process, blended into the order below
            gp = fit_smooth(table.X[train], table.score[train], table.layout.log_flags(), settings.kappa,
                            int(params.get("seed", 0)), like=smooth)
            out["order"] = np.clip(out["order"], 0.0, 1.0)
            out["gp"] = gp.score(Xt, exact=len(Xt))
        out["raw"] = train_booster(table.X[train], table.raw[train], params, rounds).inplace_predict(Xt, missing=np.nan)
        q = fit_quantile(table.X[train], table.score[train], params, rounds).inplace_predict(Xt, missing=np.nan)
        out["low"], out["high"] = interval(out["pred"], q)
        return test, out

    folds = [int(f) for f in np.unique(fold_of)]
    # Independent folds of seeded boosters, fitted side by side (XGBoost frees the GIL): same numbers.
    with ThreadPoolExecutor(max_workers=max(1, min(len(folds), fold_workers()))) as pool:
        for test, out in pool.map(fit_fold, folds):
            pred[test], order[test], raw[test] = out["pred"], out["order"], out["raw"]
            low[test], high[test] = out["low"], out["high"]
            if "gp" in out:
                gp_score[test] = out["gp"]
    weight, choice = settings.smooth, {}
    if smooth is not None:
        weight, choice = choose_weight(table, order, gp_score, settings)
        order = blend(order, gp_score, settings.order_weight(weight))
    quality = lodo_quality(table.datasets, table.groups, table.raw, table.score, pred, raw, low, high,
                           folds=len(np.unique(fold_of)), pred_order=order)
    return quality.model_copy(update={"smooth_weight": weight, "smooth_choice": choice})


def choose_weight(table: TrainingTable, base: np.ndarray, gp: np.ndarray,
                  settings: LearnerSettings) -> tuple[float, dict[str, float]]:
    """The Gaussian process's weight in the order (`settings.smooth`, or the best of `smooth_choices`):
    each candidate weight's mean over the held-out datasets of the percentile of the run it ranks first.
    Nested: every prediction here is from a fold that never saw the dataset, and a new dataset is never
    among them. Ties go to the smaller weight (the boosters alone, SHAP's model, first)."""
    weights = sorted(set(settings.smooth_choices)) or [settings.smooth]
    choice = {}
    for w in weights:
        order = blend(base, gp, settings.order_weight(w))
        picked = [float(table.score[rows][int(np.argmax(order[rows]))])
                  for rows in (table.groups == g for g in range(len(table.datasets))) if rows.any()]
        choice[f"{w:g}"] = float(np.mean(picked))
    best = max(weights, key=lambda w: (round(choice[f"{w:g}"], 9), -w))
    return best, choice
