"""How the meta-learner learns and chooses: the settings that were measured against each other
(benchmarks/meta_variants_bench.py, leave-one-dataset-out on the development benchmark) and the
pieces they switch on. Pure (numpy only): the adapter (model.py) hands boosters to these.

- `objective`: `percentile` regresses the within-dataset percentile (squared error); `pairwise` /
  `ndcg` are XGBoost's learning-to-rank objectives grouped by dataset, on integer relevance levels
  cut from the within-dataset percentile. A ranker's output is an order, not a percentile, so the
  percentile booster still answers `Prediction.score`; the ranker only orders candidates. `median`
  orders by a median regression of the percentile (pinball loss at 0.5): robust to the runs whose
  percentile is an outlier for their config, and the target of a median-percentile evaluation. `top`
  orders by the probability that a config lands in the top of its dataset (a logistic booster on "the
  run's percentile >= `top`"): the chance of a near-best answer rather than the expected rank.
- `derived_meta`: ratio meta-features (instances per class, features per instance, log sizes) and a
  count of missing meta-features, computed from the raw ones at encode time.
- `locality`: training runs weighted by how close their dataset's meta-features are to the new one
  (a Gaussian kernel on standardised distances, mixed with uniform weight `1 - locality` so far
  neighbours shrink to the global model); needs a refit per new dataset.
- `pool`: where the one-shot choice looks: `space` the argmax over the whole space (the trees'
  extrapolation decides in regions no run visited), `logged` the distinct configs the runs tried
  (pool.py), scored by the prediction blended with their observed mean percentile (`evidence`);
  past the logged configs, a list of N is filled from the space.
- `smooth`: the weight of a Gaussian process (smooth.py) in the order of candidates, blended with the
  booster's percentile: a smooth surrogate whose lower confidence bound (`kappa`) keeps the argmax
  near what the runs support instead of a corner of the trees' best box. `surrogate` says which:
  `gp` one GP over meta-features x config, `transfer` a GP per past dataset over the config whose mean,
  weighted by meta-feature closeness (`transfer_locality`), orders candidates (transfer.py; the
  portfolio then takes its per-dataset predictions from those GPs); `transfer_spread` takes their weighted
  std across the datasets off that mean (a config good on all of them over one great on some).
- `portfolio`: for N > 1 recommendations, a greedy cover: each next config is the one that adds most
  to the similarity-weighted sum over the past datasets of the best predicted percentile so far,
  instead of the next best by the new dataset's prediction.
Tested in tests/knowledge/meta_learner/test_variants.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from metallmix_wandb.knowledge.records import MetaValue
from metallmix_wandb.numbers import finite_or_none


class LearnerSettings(BaseModel):
    """The chosen variant, stored in the artifact (meta_learner.json) so a reader knows what it got."""

    variant: str = "percentile"
    objective: Literal["percentile", "median", "top", "pairwise", "ndcg"] = "percentile"
    relevance_levels: int = Field(16, description="integer relevance levels for a ranking objective")
    top: float = Field(0.9, gt=0.0, lt=1.0, description="`top` objective: a run is a hit at this percentile or above")
    derived_meta: bool = False
    locality: float = Field(0.0, ge=0.0, le=1.0, description="0 = one global model")
    bandwidth: float = Field(1.0, gt=0.0, description="kernel width, in median inter-dataset distances")
    portfolio: bool = False
    shrink: float = Field(0.0, ge=0.0, le=1.0, description="one-shot: weight of the past datasets' mean prediction")
    pool: Literal["space", "logged"] = Field("space", description="one-shot candidates: space or logged configs")
    evidence: float = Field(0.0, ge=0.0, le=1.0, description="logged pool: weight of the observed mean percentile")
    smooth: float = Field(0.0, ge=0.0, le=1.0, description="weight of the Gaussian process (smooth.py) in the order "
                          "of candidates; 0 = the boosters alone")
    surrogate: Literal["gp", "transfer"] = Field("gp", description="what `smooth` weighs: `gp` one Gaussian process over "
                                                   "meta-features x config (smooth.py), `transfer` a GP per past dataset "
                                                   "over the config, their mean weighted by closeness (transfer.py)")
    transfer_locality: float = Field(0.5, ge=0.0, le=1.0, description="transfer: the closeness kernel's share of a past "
                                     "dataset's weight (0 = every past dataset alike)")
    transfer_spread: float = Field(0.0, ge=0.0, description="transfer: the order is the surfaces' weighted mean "
                                   "less this x their weighted std (a config good on every past dataset over one "
                                   "great on some)")
    transfer_kernel: Literal["grouped", "pooled"] = Field("pooled", description="transfer: the shared kernel's "
                                                          "likelihood summed over datasets, or of all runs pooled")
    kappa: float = Field(1.0, ge=0.0, description="smooth: the GP's score is its mean - kappa * its std")
    untried: float = Field(1.0, ge=0.0, le=1.0, description="share of the space's configs (over the model's "
                           "parameters) that no run tried, set by the fit: 1 for a continuous space; the GP's "
                           "weight is `smooth` x this (it interpolates into untried configs; with all tried, nothing)")
    smooth_choices: list[float] = Field(default_factory=list, description="weights the fit chooses `smooth` from "
                                        "by leave-one-dataset-out (boosters.choose_weight); empty: `smooth` as set")


    def order_weight(self, smooth: float | None = None) -> float:
        """The Gaussian process's weight in the order: `smooth` (or a candidate weight) x `untried`."""
        return (self.smooth if smooth is None else smooth) * self.untried

    def line(self) -> str:
        """What `explain` prints and the manifest records: the variant and its settings."""
        parts = [f"objective {self.objective}", f"portfolio {'on' if self.portfolio else 'off'}"]
        if self.derived_meta:
            parts.append("derived meta-features")
        if self.locality:
            parts.append(f"locality {self.locality:g} (bandwidth {self.bandwidth:g})")
        if self.shrink:
            parts.append(f"one-shot shrink {self.shrink:g}")
        if (self.smooth or self.smooth_choices) and self.untried <= 0:
            parts.append("no Gaussian process (every config of the space was tried)")
        elif self.smooth_choices:
            parts.append(f"Gaussian-process order weight {self.smooth:g} of {', '.join(f'{w:g}' for w in self.smooth_choices)}"
                         f" chosen by leave-one-dataset-out (mean - {self.kappa:g} std)")
        elif self.smooth and self.surrogate == "transfer":
            parts.append(f"per-dataset Gaussian processes' order weight {self.order_weight():.2g} "
                         f"(closeness share {self.transfer_locality:g}"
                         + (f", less {self.transfer_spread:g} std across them)" if self.transfer_spread else ")"))
        elif self.smooth:
            parts.append(f"Gaussian-process order weight {self.order_weight():.2g} (mean - {self.kappa:g} std)")
        if self.pool == "logged":
            parts.append(f"one-shot among logged configs (evidence {self.evidence:g})")
        return f"variant '{self.variant}' ({', '.join(parts)})"


VARIANTS: dict[str, LearnerSettings] = {
    "percentile": LearnerSettings(),
    "pairwise": LearnerSettings(variant="pairwise", objective="pairwise"),
    "ndcg": LearnerSettings(variant="ndcg", objective="ndcg"),
    "median": LearnerSettings(variant="median", objective="median", portfolio=True),
    "top": LearnerSettings(variant="top", objective="top", portfolio=True),
    "derived": LearnerSettings(variant="derived", derived_meta=True),
    "local": LearnerSettings(variant="local", locality=0.7),
    "portfolio": LearnerSettings(variant="portfolio", portfolio=True),
    "shrink": LearnerSettings(variant="shrink", portfolio=True, shrink=0.5),
    "logged": LearnerSettings(variant="logged", portfolio=True, pool="logged"),
    "logged-blend": LearnerSettings(variant="logged-blend", portfolio=True, pool="logged", evidence=0.5),
    "logged-mean": LearnerSettings(variant="logged-mean", portfolio=True, pool="logged", evidence=1.0),
    "smooth": LearnerSettings(variant="smooth", portfolio=True, smooth=1.0),
    "smooth-blend": LearnerSettings(variant="smooth-blend", portfolio=True, smooth=0.5),
    "transfer": LearnerSettings(variant="transfer", portfolio=True, smooth=1.0, surrogate="transfer"),
    "transfer-blend": LearnerSettings(variant="transfer-blend", portfolio=True, smooth=0.5, surrogate="transfer"),
    "transfer-near": LearnerSettings(variant="transfer-near", portfolio=True, smooth=1.0, surrogate="transfer",
                                     transfer_locality=1.0),
    "transfer-uniform": LearnerSettings(variant="transfer-uniform", portfolio=True, smooth=1.0, surrogate="transfer",
                                        transfer_locality=0.0),
    "transfer-grouped": LearnerSettings(variant="transfer-grouped", portfolio=True, smooth=1.0, surrogate="transfer",
                                        transfer_locality=1.0, transfer_kernel="grouped"),
    "transfer-robust": LearnerSettings(variant="transfer-robust", portfolio=True, smooth=0.5, surrogate="transfer",
                                       transfer_spread=1.0),
    "transfer-robust-half": LearnerSettings(variant="transfer-robust-half", portfolio=True, smooth=0.5,
                                            surrogate="transfer", transfer_spread=0.5),
    "smooth-auto": LearnerSettings(variant="smooth-auto", portfolio=True, smooth=0.5, smooth_choices=[0.0, 0.5, 1.0]),
}
DEFAULT = VARIANTS["transfer-blend"]
"""Chosen by leave-one-dataset-out on the development benchmark (README, meta-learner section; stop 23),
by the mean over every held-out dataset (row medians of 3-8 datasets swing with one of them): the order
half percentile booster, half the past datasets' own Gaussian processes (transfer.py, each dataset
weighed half alike, half by meta-feature closeness). Over 105 held-out evaluations (the 45 of the nine
rows, 30 with each dataset logging its own configs, 30 at 30 and 100 runs per dataset) its one-shot mean
percentile is 0.945, against 0.935 for `smooth-blend` (stop 22's default: half booster, half one GP over
meta-features x config) and 0.942 for the transfer GPs alone (`transfer`: better on 32 datasets, worse on
28, more picks below 0.85: 15 against 12). Lost too: closeness alone (`transfer-near`), every dataset
alike (`transfer-uniform`), the kernel fitted per dataset (`transfer-grouped`). Before: the ranking
objectives, derived meta-features, locality, the shrunk one-shot choice, the logged pool and the
`median` order (benchmarks/results/issue14_matrix.md). After (stop 26): the surfaces' mean less their
std across the datasets (`transfer-robust`, `-half`: 0.943 against 0.947 over the 30 held-out datasets x 2
history sizes, 3 logged samples each)."""


def untried_share(tried: int, grid_size: int | None) -> float:
    """Share of a space's configs no run tried: 1 when the space is continuous (`grid_size` None)."""
    return 1.0 if not grid_size else max(0.0, 1.0 - tried / grid_size)


def relevance(score: np.ndarray, levels: int) -> np.ndarray:
    """Integer relevance 0..levels-1 from a within-dataset percentile (1 = best)."""
    return np.floor(np.clip(score, 0.0, 1.0) * (levels - 1) + 0.5)


def derive_meta(meta: Mapping[str, MetaValue]) -> dict[str, MetaValue]:
    """The meta-features plus ratios a tree cannot form by itself (it splits one column at a time)."""
    out = dict(meta)
    n, k, f = (finite_or_none(meta.get(key)) for key in ("n_instances", "n_classes", "n_features"))
    if n and n > 0:
        out["log10_instances"] = math.log10(n)
        if k and k > 0:
            out["instances_per_class"] = n / k
        if f and f > 0:
            out["features_per_instance"] = f / n
    known = ("n_instances", "n_classes", "n_features", "resolution", "imbalance_ratio", "class_entropy")
    out["meta_missing"] = float(sum(1 for key in known if meta.get(key) is None))
    return out


def dataset_distances(target: np.ndarray, datasets: np.ndarray, log: np.ndarray) -> np.ndarray:
    """Distance from the target's meta-feature row to each dataset's: columns on log10 where flagged,
    standardised over the datasets, RMS over the columns both sides know (NaN when none)."""
    rows = np.vstack([datasets, target[None, :]]).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        rows[:, log] = np.log10(np.where(rows[:, log] > 0, rows[:, log], np.nan))
        sd = np.nanstd(rows[:-1], axis=0)
        z = (rows - np.nanmean(rows[:-1], axis=0)) / np.where(sd > 0, sd, np.nan)
        diff = (z[:-1] - z[-1]) ** 2
        known = np.isfinite(diff)
        return np.sqrt(np.where(known, diff, 0.0).sum(axis=1) / known.sum(axis=1))


def locality_weights(distances: np.ndarray, locality: float, bandwidth: float) -> np.ndarray:
    """Per-dataset weights: (1 - locality) + locality * Gaussian kernel of the distance, the width
    `bandwidth` median distances; an unknown distance gets the uniform part only."""
    d = np.asarray(distances, dtype=np.float64)
    finite = d[np.isfinite(d)]
    scale = bandwidth * (float(np.median(finite)) if finite.size and np.median(finite) > 0 else 1.0)
    kernel = np.where(np.isfinite(d), np.exp(-0.5 * (np.nan_to_num(d) / scale) ** 2), 0.0)
    return (1.0 - locality) + locality * kernel


def greedy_cover(target: np.ndarray, per_dataset: np.ndarray, weights: np.ndarray, n: int,
                 shrink: float = 0.0) -> list[int]:
    """Indices of n candidates: first the best by (1 - shrink) * the new dataset's prediction +
    shrink * the weighted mean prediction over the past datasets (shrink 0: the new dataset's best),
    then each next the candidate that most raises sum_d weights[d] * max(chosen predicted percentile
    on past dataset d) (ties: the new dataset's prediction). `target`: (K,), `per_dataset`: (K, D)."""
    prior = per_dataset @ weights / max(float(weights.sum()), 1e-12)
    chosen = [int(np.argmax((1.0 - shrink) * target + shrink * prior))]
    best = per_dataset[chosen[0]].copy()
    while len(chosen) < min(n, len(target)):
        gain = (np.maximum(per_dataset, best[None, :]) - best[None, :]) @ weights
        gain = gain + 1e-6 * target
        gain[chosen] = -np.inf
        pick = int(np.argmax(gain))
        chosen.append(pick)
        best = np.maximum(best, per_dataset[pick])
    return chosen
