"""Quality of the meta-learner, measured leave-one-dataset-out. Pure (numpy only).

The adapter fits one model per fold and hands the held-out predictions here. A recommender is
judged on datasets it has never seen, so every number below is about held-out datasets:

- `r2`: R² of the ranking model on the per-dataset percentile target, pooled over held-out runs;
- `r2_raw`: R² of the raw-metric model on the raw metric (this includes between-dataset spread);
- `spearman`: within each held-out dataset, Spearman between predicted score and actual metric,
  averaged over datasets (1 = the model orders that dataset's configs perfectly);
- `top1_hit_rate`: share of held-out datasets whose best run is the one the model ranks first,
  beside `top1_random` (what picking a run at random scores) and `top1_percentile` (the actual
  percentile of the run the model picks: 1 = the best, 0.5 = what random picks average);
- `coverage`: share of held-out runs whose percentile lies inside the predicted interval (nominal
  0.8), with its mean `interval_width`. Raw [q10, q90] quantile intervals are too narrow on a
  dataset the models never saw (`coverage_uncalibrated`, often ~0.5), so they are widened by a
  conformal margin (split-conformal on the out-of-fold conformity scores, Romano et al. 2019,
  "Conformalized quantile regression"). `coverage` is measured honestly: each held-out dataset is
  scored with a margin computed from the other datasets' scores only.
Tested through tests/knowledge/meta_learner/test_model.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

from metallmix_wandb.knowledge.meta_learner.features import average_ranks

NOMINAL_COVERAGE = 0.8


class DatasetFold(BaseModel):
    """Held-out results on one dataset."""

    dataset: str
    runs: int
    spearman: float | None = None
    top1_hit: bool
    top1_random: float
    top1_percentile: float


class LodoQuality(BaseModel):
    """Leave-one-dataset-out quality, stored with the model and printed by sync/explain."""

    measured: bool
    note: str = ""
    folds: int = 0
    datasets: int = 0
    runs: int = 0
    r2: float | None = None
    r2_raw: float | None = None
    spearman: float | None = None
    top1_hit_rate: float | None = None
    top1_random: float | None = None
    top1_percentile: float | None = None
    coverage: float | None = None
    coverage_uncalibrated: float | None = None
    nominal_coverage: float = NOMINAL_COVERAGE
    interval_width: float | None = None
    interval_margin: float = Field(0.0, description="conformal margin added to each side of [q10, q90]")
    per_dataset: list[DatasetFold] = Field(default_factory=list)
    smooth_weight: float = Field(0.0, description="the Gaussian process's weight in the order (variants.py `smooth`)")
    smooth_choice: dict[str, float] = Field(default_factory=dict, description="per candidate weight, the mean "
                                            "held-out percentile of the run it ranks first (how the weight was chosen)")

    def line(self) -> str:
        """One line for the terminal and the digest."""
        if not self.measured:
            return f"quality not measured: {self.note}"
        return (
            f"leave-one-dataset-out over {self.datasets} datasets: R² {_f(self.r2)} "
            f"(raw metric {_f(self.r2_raw)}), "
            f"Spearman {_f(self.spearman)} within datasets, top-1 hit {_pct(self.top1_hit_rate)} "
            f"(random {_pct(self.top1_random)}), picked run's percentile {_f(self.top1_percentile)}, "
            f"{self.nominal_coverage:.0%} interval coverage {_f(self.coverage)} "
            f"(uncalibrated quantiles {_f(self.coverage_uncalibrated)})"
        )


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0%}"


def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """NaN-safe Pearson r: pairs with a NaN are dropped; None when fewer than 3 remain or either
    side is constant (r is undefined there, not 0)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return None
    x, y = x[ok], y[ok]
    if _constant(x) or _constant(y):
        return None
    x, y = x - x.mean(), y - y.mean()
    return float(np.clip(float(x @ y) / math.sqrt(float(x @ x) * float(y @ y)), -1.0, 1.0))


def _constant(v: np.ndarray) -> bool:
    """Constant up to float noise (SHAP values of an unused feature are ~1e-17, not 0)."""
    return float(v.std()) <= 1e-12 * (1.0 + float(np.abs(v).max()))


def spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman's rho (Pearson of average ranks); None when undefined."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return None
    return pearson(average_ranks(x[ok]), average_ranks(y[ok]))


def r2(y: np.ndarray, pred: np.ndarray) -> float | None:
    sst = float(((y - y.mean()) ** 2).sum())
    return None if sst <= 0 else 1.0 - float(((y - pred) ** 2).sum()) / sst


def dataset_fold(dataset: str, raw: np.ndarray, score: np.ndarray, pred: np.ndarray) -> DatasetFold:
    """Within-dataset ranking quality for one held-out dataset."""
    best = raw >= raw.max()
    pick = int(np.argmax(pred))
    return DatasetFold(
        dataset=dataset, runs=len(raw), spearman=spearman(pred, raw), top1_hit=bool(best[pick]),
        top1_random=float(best.mean()), top1_percentile=float(score[pick]),
    )


def conformal_margin(scores: np.ndarray, level: float = NOMINAL_COVERAGE) -> float:
    """The split-conformal quantile of conformity scores max(low - y, y - high): widening every
    interval by it covers a new point with probability >= level (exchangeability assumed)."""
    n = len(scores)
    if n == 0:
        return 0.0
    k = min(n, math.ceil((n + 1) * level))  # the k-th smallest score (the largest when k > n)
    return max(0.0, float(np.sort(scores)[k - 1]))


def lodo_quality(
    datasets: Sequence[str], groups: np.ndarray, raw: np.ndarray, score: np.ndarray, pred_score: np.ndarray,
    pred_raw: np.ndarray, low: np.ndarray, high: np.ndarray, folds: int, pred_order: np.ndarray | None = None,
) -> LodoQuality:
    """Aggregate held-out predictions (every row predicted by a model that never saw its dataset);
    `low`/`high` are the uncalibrated quantile intervals; `pred_order` what orders configs (a
    ranking variant's booster; default the predicted percentile) for Spearman and top-1."""
    order = pred_score if pred_order is None else pred_order
    per = [dataset_fold(d, raw[groups == g], score[groups == g], order[groups == g])
           for g, d in enumerate(datasets) if (groups == g).any()]
    rhos = [p.spearman for p in per if p.spearman is not None]
    conformity = np.maximum(low - score, score - high)
    covered, widths = np.zeros(len(score), dtype=bool), np.zeros(len(score))
    for g in np.unique(groups):
        rows = groups == g
        margin = conformal_margin(conformity[~rows])
        lo, hi = np.clip(low[rows] - margin, 0, 1), np.clip(high[rows] + margin, 0, 1)
        covered[rows], widths[rows] = (score[rows] >= lo) & (score[rows] <= hi), hi - lo
    return LodoQuality(
        measured=True, folds=folds, datasets=len(per), runs=len(raw),
        r2=r2(score, pred_score), r2_raw=r2(raw, pred_raw),
        spearman=float(np.mean(rhos)) if rhos else None,
        top1_hit_rate=float(np.mean([p.top1_hit for p in per])),
        top1_random=float(np.mean([p.top1_random for p in per])),
        top1_percentile=float(np.mean([p.top1_percentile for p in per])),
        coverage=float(covered.mean()),
        coverage_uncalibrated=float(((score >= low) & (score <= high)).mean()),
        interval_width=float(widths.mean()), interval_margin=conformal_margin(conformity),
        per_dataset=per,
    )


def fold_assignment(n_datasets: int, max_folds: int) -> np.ndarray:
    """Fold of each dataset: one per dataset up to `max_folds`, then datasets dealt round-robin
    (in sorted order) so the cost stays bounded with hundreds of datasets."""
    return np.arange(n_datasets) % max(1, min(n_datasets, max_folds))
