"""The XGBoost meta-learner: predict how a config ranks on a dataset from its meta-features.

Four boosters, all fitted on the same feature table (knowledge/meta_learner/features.py):
- `rank`: the per-dataset percentile of the run (the ranking target, DESIGN.md §4); recommends;
- `raw`: the raw metric, for the values users see;
- `time`: log1p(train_time_s), so accuracy can be traded against time;
- `quantile`: one multi-quantile booster (`reg:quantileerror`, alpha 0.1/0.5/0.9) on the
  percentile. The interval of a prediction is [q10, q90], widened to include the `rank` point,
  then by a conformal margin learned from the leave-one-dataset-out residuals (quantile models
  alone cover ~50% of held-out runs, not 80%); coverage is reported in `LodoQuality`.
Fixed seeds and a fixed thread count make a refit on the same runs bit-identical. Models are
saved as XGBoost UBJSON beside a JSON description (layout, space, quality).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from metallmix_wandb.space.argmax import MAX_GRID, search
from metallmix_wandb.space.candidates import Choices, complete
from metallmix_wandb.knowledge.meta_learner.features import (
    FeatureLayout,
    MetaLearnerError,
    TrainingTable,
    build_table,
    feature_row,
)
from metallmix_wandb.knowledge.meta_learner.boosters import (
    MAX_FOLDS,
    QUANTILES,
    ROUNDS,
    booster_params,
    fit_order,
    fit_quantile,
    interval,
    lodo,
    row_weights,
    train_booster,
)
from metallmix_wandb.knowledge.meta_learner.pool import LoggedPool, blend, config_key, table_pool
from metallmix_wandb.knowledge.meta_learner.quality import LodoQuality
from metallmix_wandb.knowledge.meta_learner.shap_compat import shap_xgboost_compat
from metallmix_wandb.knowledge.meta_learner.smooth import SmoothGP, fit_smooth
from metallmix_wandb.knowledge.meta_learner.transfer import TransferGP, fit_transfer
from metallmix_wandb.knowledge.meta_learner.variants import (
    DEFAULT,
    LearnerSettings,
    dataset_distances,
    greedy_cover,
    locality_weights,
    untried_share,
)
from metallmix_wandb.knowledge.records import Experiment, MetaValue
from metallmix_wandb.space.search_space import SearchSpace

if TYPE_CHECKING:
    import xgboost as xgb

__all__ = ["BestConfig", "MetaLearner", "MetaLearnerError", "MetaLearnerInfo", "Prediction"]

DEFAULT_N_JOBS = 1

MODELS = ("rank", "raw", "time", "quantile")
SMOOTH_FILE = "order_smooth.npz"
TRANSFER_FILE = "order_transfer.npz"


class Prediction(BaseModel):
    score: float = Field(description="predicted percentile within the dataset (1 = its best config)")
    low: float = Field(description="lower end of the ~80% interval of the score (q10 - conformal margin)")
    high: float = Field(description="upper end (q90 + conformal margin)")
    raw_metric: float = Field(description="predicted raw metric (e.g. test/acc)")
    train_time_s: float


class BestConfig(BaseModel):
    config: dict[str, Any] = Field(description="a full config of the space: always passes validate_config")
    prediction: Prediction
    method: Literal["grid", "sample", "logged"]
    scored: int = Field(description="candidate configs scored")
    seconds: float


class MetaLearnerInfo(BaseModel):
    """Everything besides the boosters; saved as meta_learner.json."""

    metric: str
    layout: FeatureLayout
    space: dict[str, Any] = Field(description="the modelled search space as a W&B sweep config")
    runs: int
    datasets: list[str]
    quality: LodoQuality
    seed: int = 0
    n_jobs: int = DEFAULT_N_JOBS
    rounds: int = ROUNDS
    quantiles: list[float] = Field(default_factory=lambda: list(QUANTILES))
    xgboost_version: str = ""
    timings: dict[str, float] = Field(default_factory=dict)
    settings: LearnerSettings = Field(default_factory=LearnerSettings,
                                      description="the variant chosen (variants.py); absent in older artifacts")
    dataset_meta: list[list[float | None]] = Field(
        default_factory=list, description="each training dataset's meta-feature columns (layout order), for the "
        "portfolio of N > 1 recommendations after a load")
    logged: LoggedPool = Field(default_factory=LoggedPool, description="the logged configs and their observed "
                               "percentile, kept when the variant chooses among them (`pool: logged`)")
    raw_range: tuple[float, float] | None = Field(
        None, description="the lowest and highest raw metric of the runs: a raw prediction is kept inside it (boosted "
        "trees add leaf values and can step past what any run reached, e.g. an accuracy of 1.002); None in older "
        "artifacts")

    def search_space(self) -> SearchSpace:
        return SearchSpace.from_sweep_config(self.space)


class MetaLearner:
    """Fitted boosters plus their description; build with `fit` or `load`."""

    def __init__(self, info: MetaLearnerInfo, boosters: Mapping[str, xgb.Booster]) -> None:
        self.info = info
        self.boosters = dict(boosters)
        self.table: TrainingTable | None = None  # set by fit(): the rows it was trained on
        self.smooth: SmoothGP | TransferGP | None = None  # the `smooth` setting's surrogate (smooth.py, transfer.py)

    @property
    def layout(self) -> FeatureLayout:
        return self.info.layout

    # ------------------------------------------------------------------ fit

    @classmethod
    def fit(cls, experiments: Sequence[Experiment], space: SearchSpace | None = None,
            metric: str = "test/acc", n_jobs: int = DEFAULT_N_JOBS, seed: int = 0, rounds: int = ROUNDS,
            max_folds: int = MAX_FOLDS, settings: LearnerSettings | None = None, lite: bool = False,
            target_meta: Mapping[str, MetaValue] | None = None) -> MetaLearner:
        """Fit on every run, then measure quality leave-one-dataset-out (at most `max_folds` folds).
        `lite`: only the boosters that choose configs, no quality (benchmarks of the argmax: `predict`
        needs a full fit). `target_meta`: the new dataset, for a `locality` variant's weights.
        Raises MetaLearnerError when the runs cannot train a useful model."""
        import xgboost as xgb

        settings = settings or DEFAULT
        table = build_table(experiments, space, metric, derived_meta=settings.derived_meta)
        params = booster_params(seed, n_jobs)
        weight = row_weights(table, target_meta, settings) if target_meta is not None else None
        t0 = time.perf_counter()
        boosters = {"rank": train_booster(table.X, table.score, params, rounds, weight)}
        if settings.objective != "percentile":
            boosters["order"] = fit_order(table.X, table.score, table.groups, settings, params, rounds, weight)
        if not lite:
            boosters.update({
                "raw": train_booster(table.X, table.raw, params, rounds),
                "time": train_booster(table.X, table.log_time, params, rounds),
                "quantile": fit_quantile(table.X, table.score, params, rounds),
            })
        t1 = time.perf_counter()
        heaviest = max([settings.smooth, *settings.smooth_choices])  # the GP's largest weight on offer
        if heaviest > 0:
            settings = settings.model_copy(update={"untried": _untried(table)})
        smooth = _fit_surrogate(table, settings, seed) if settings.order_weight(heaviest) > 0 else None
        t_smooth = time.perf_counter() - t1
        quality = (LodoQuality(measured=False, note="not measured (lite fit)") if lite
                   else lodo(table, params, rounds, max_folds, settings, smooth))
        if settings.smooth_choices and quality.smooth_choice:  # the weight chosen leave-one-dataset-out
            settings = settings.model_copy(update={"smooth": quality.smooth_weight})
        if settings.order_weight() <= 0:
            smooth = None
        t2 = time.perf_counter()
        info = MetaLearnerInfo(
            metric=metric, layout=table.layout, space=table.space.to_sweep_config(), runs=len(table.score),
            datasets=table.datasets, quality=quality, seed=seed, n_jobs=n_jobs, rounds=rounds,
            xgboost_version=xgb.__version__, settings=settings,
            timings={"fit_s": t1 - t0, "smooth_s": t_smooth, "lodo_s": t2 - t1 - t_smooth},
            dataset_meta=_dataset_meta(table),
            raw_range=(float(np.nanmin(table.raw)), float(np.nanmax(table.raw))),
            logged=table_pool(experiments, table) if settings.pool == "logged" else LoggedPool(),
        )
        learner = cls(info, boosters)
        learner.table = table
        learner.smooth = smooth
        return learner

    # ------------------------------------------------------------------ predict

    def predict_matrix(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Raw predictions for encoded rows: score, low, high, raw_metric, train_time_s."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        b = self.boosters
        score = np.clip(b["rank"].inplace_predict(X, missing=np.nan), 0.0, 1.0)  # a percentile
        low, high = interval(score, b["quantile"].inplace_predict(X, missing=np.nan))
        margin = self.info.quality.interval_margin
        low, high = np.clip(low - margin, 0.0, 1.0), np.clip(high + margin, 0.0, 1.0)
        return {"score": score, "low": low, "high": high,
                "raw_metric": self._raw(b["raw"].inplace_predict(X, missing=np.nan)),
                "train_time_s": np.expm1(b["time"].inplace_predict(X, missing=np.nan)).clip(min=0.0)}

    def _raw(self, values: np.ndarray) -> np.ndarray:
        """Raw-metric predictions kept inside the range the runs showed (`MetaLearnerInfo.raw_range`)."""
        return values if self.info.raw_range is None else np.clip(values, *self.info.raw_range)

    def predict(self, meta: Mapping[str, MetaValue],
                configs: Sequence[Mapping[str, Any]]) -> list[Prediction]:
        """Predictions for configs (flat or nested) on a dataset with these meta-features."""
        if not configs:
            return []
        X = np.stack([feature_row(self.layout, meta, c) for c in configs])
        out = self.predict_matrix(X)
        return [Prediction(**{k: float(v[i]) for k, v in out.items()}) for i in range(len(configs))]

    def best_config(self, meta: Mapping[str, MetaValue], space: SearchSpace | None = None,
                    n_samples: int = 2000, seed: int = 0, max_grid: int = MAX_GRID) -> BestConfig:
        """Argmax of the ranking prediction over the space: the whole grid when it is discrete and
        at most `max_grid` configs, else `n_samples` seeded random configs refined twice around the
        10 best (perturb + snap): space/argmax.py's `search`, which tune's surrogate shares. Parameters
        the model never saw take the runs' most common value."""
        start = time.perf_counter()
        space = space or self.info.search_space()
        if self._uses_pool():  # the best of the logged configs (variants.py `pool`)
            config, method, scored = self._ranked(meta, space, 1)[0], "logged", len(self.info.logged.configs)
        else:
            params = [n for n in self.layout.params if n in space.tunable]
            found = search(space, params, lambda choices, n: self._scores(meta, choices, n),
                           n_samples=max(1, n_samples), seed=seed, max_grid=max_grid)
            config, method, scored = complete(space, found.best(), self.layout.observed_mode), found.method, found.n
        ok = space.validate_config(config)
        assert ok.ok, ok.errors  # complete() always yields a valid config
        pred = self.predict(meta, [config])[0]
        return BestConfig(config=config, prediction=pred, method=method, scored=scored,
                          seconds=time.perf_counter() - start)

    def ranked_configs(self, meta: Mapping[str, MetaValue], space: SearchSpace | None = None, n: int = 200,
                       n_samples: int = 2000, seed: int = 0,
                       max_grid: int = MAX_GRID) -> list[tuple[dict[str, Any], Prediction]]:
        """The `n` best distinct configs of the same search as `best_config`, best first, with their
        predictions: what recommend offers the LLM to choose from (recommend/candidates.py)."""
        configs = self._ranked(meta, space, n, n_samples, seed, max_grid)
        return list(zip(configs, self.predict(meta, configs), strict=True))

    def _ranked(self, meta: Mapping[str, MetaValue], space: SearchSpace | None, n: int, n_samples: int = 2000,
                seed: int = 0, max_grid: int = MAX_GRID) -> list[dict[str, Any]]:
        space = space or self.info.search_space()
        configs: list[dict[str, Any]] = []
        seen: set[str] = set()
        if self._uses_pool():  # the logged configs by their blended score first; the space fills the rest
            logged = [complete(space, c, self.layout.observed_mode) for c in self.info.logged.configs]
            X = np.stack([feature_row(self.layout, meta, c) for c in logged])
            scores = blend(self.order(X), np.asarray(self.info.logged.observed), self.info.settings.evidence)
            for i in np.argsort(-scores, kind="stable"):
                if config_key(logged[i]) not in seen and len(configs) < n:
                    seen.add(config_key(logged[i]))
                    configs.append(logged[i])
            if len(configs) >= n:
                return configs
        params = [p for p in self.layout.params if p in space.tunable]
        found = search(space, params, lambda choices, m: self._scores(meta, choices, m),
                       n_samples=max(1, n_samples), seed=seed, max_grid=max_grid)
        for i in np.argsort(-found.scores, kind="stable"):
            config = complete(space, found.config(int(i)), self.layout.observed_mode)
            key = config_key(config)
            if key not in seen:
                seen.add(key)
                configs.append(config)
            if len(configs) >= n:
                break
        return configs

    def recommend_n(self, meta: Mapping[str, MetaValue], space: SearchSpace | None = None, n: int = 3,
                    pool: int = 200, seed: int = 0) -> list[dict[str, Any]]:
        """n distinct configs to try on a new dataset, the first `best_config`'s choice: the next best
        by prediction, or with the `portfolio` setting a greedy cover of the past datasets (variants.py)."""
        settings = self.info.settings
        ranked = self._ranked(meta, space, max(n, pool) if settings.portfolio else n, seed=seed)
        if not settings.portfolio or not self.info.dataset_meta or len(ranked) <= 1:
            return ranked[:n]
        X = np.stack([feature_row(self.layout, meta, c) for c in ranked]).astype(np.float32)
        # the order `_ranked` chose (a logged pool's blend is not the model's order); first = best_config
        target = -np.arange(len(ranked), dtype=np.float64) if self._uses_pool() else self.order(X)
        if isinstance(self.smooth, TransferGP):  # the per-dataset surfaces that ordered them
            return [ranked[i] for i in greedy_cover(target, self.smooth.surfaces(X), self.smooth.weights(X), n,
                                                    settings.shrink)]
        cols = [c.source == "meta" for c in self.layout.columns]
        metas = np.array(self.info.dataset_meta, dtype=np.float64)
        meta_cols = np.flatnonzero(cols)
        per = np.empty((len(ranked), len(metas)))
        for j, m in enumerate(metas):
            Xd = X.copy()
            Xd[:, meta_cols] = m
            per[:, j] = np.clip(self.boosters["rank"].inplace_predict(Xd, missing=np.nan), 0.0, 1.0)
        w = np.ones(len(metas))
        if meta_cols.size and len(metas) >= 2:
            logs = np.array([c.log for c in self.layout.columns])[cols]
            w = locality_weights(dataset_distances(feature_row(self.layout, meta, {})[cols], metas, logs),
                                 1.0, settings.bandwidth)
        return [ranked[i] for i in greedy_cover(target, per, w, n, settings.shrink)]

    def _uses_pool(self) -> bool:
        return self.info.settings.pool == "logged" and bool(self.info.logged.configs)

    def order(self, X: np.ndarray) -> np.ndarray:
        """What orders candidates (recommend's argmax, tune's utility): the ranking booster when the variant
        has one, else the percentile's, blended with the smooth surrogate when there is one."""
        booster = self.boosters.get("order", self.boosters["rank"])
        order = booster.inplace_predict(np.ascontiguousarray(X, dtype=np.float32), missing=np.nan)
        if self.smooth is None:
            return order
        return self.smooth.score(X, np.clip(order, 0.0, 1.0), self.info.settings.order_weight())

    def _scores(self, meta: Mapping[str, MetaValue], choices: Choices, n: int) -> np.ndarray:
        return self.order(self.layout.candidates(meta, choices, n))

    # ------------------------------------------------------------------ SHAP

    def shap_values(self, X: np.ndarray, model: str = "rank") -> tuple[np.ndarray, float]:
        """TreeSHAP (shap.TreeExplainer) of one booster: (values rows x columns, expected value)."""
        import shap

        with shap_xgboost_compat():
            explainer = shap.TreeExplainer(self.boosters[model])
        values = explainer.shap_values(np.asarray(X, dtype=np.float64))
        base = float(np.ravel(explainer.expected_value)[0])
        return np.asarray(values, dtype=np.float64), base

    # ------------------------------------------------------------------ save / load

    def save(self, folder: Path) -> list[str]:
        """XGBoost's binary JSON (UBJSON) per booster plus meta_learner.json; returns the file names.
        UBJSON holds the same model as XGBoost's text JSON, and loads in a quarter of the time
        (0.2 s less for `recommend`); `load` still reads the .json of knowledge saved before."""
        folder.mkdir(parents=True, exist_ok=True)
        names = []
        for name in [*MODELS, *(["order"] if "order" in self.boosters else [])]:
            self.boosters[name].save_model(str(folder / f"model_{name}.ubj"))
            names.append(f"model_{name}.ubj")
        if self.smooth is not None:
            name = TRANSFER_FILE if isinstance(self.smooth, TransferGP) else SMOOTH_FILE
            self.smooth.save(folder / name)
            names.append(name)
        info = self.info.model_dump(mode="json", exclude={"timings"})
        (folder / "meta_learner.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        return [*names, "meta_learner.json"]

    @classmethod
    def load(cls, folder: Path, n_jobs: int | None = None) -> MetaLearner:
        import xgboost as xgb

        info = MetaLearnerInfo.model_validate_json((folder / "meta_learner.json").read_text())
        boosters = {}
        extra = ["order"] if info.settings.objective != "percentile" else []
        for name in [*MODELS, *extra]:
            booster = xgb.Booster()
            path = folder / f"model_{name}.ubj"
            if not path.exists() and (folder / f"model_{name}.json").exists():
                path = folder / f"model_{name}.json"  # knowledge saved before UBJSON
            booster.load_model(str(path))
            booster.set_param({"nthread": n_jobs or info.n_jobs})
            boosters[name] = booster
        learner = cls(info, boosters)
        if info.settings.order_weight() > 0 and info.settings.surrogate == "transfer":
            learner.smooth = TransferGP.load(folder / TRANSFER_FILE)
            learner.smooth.spread = info.settings.transfer_spread
        elif info.settings.order_weight() > 0:
            learner.smooth = SmoothGP.load(folder / SMOOTH_FILE)
        return learner


def _fit_surrogate(table: TrainingTable, settings: LearnerSettings, seed: int) -> SmoothGP | TransferGP:
    """The order's smooth part: one GP over the whole table, or one per past dataset over the config."""
    log = table.layout.log_flags()
    if settings.surrogate == "transfer":
        cols = np.array([c.source == "param" for c in table.layout.columns])
        meta = np.array([c.source == "meta" for c in table.layout.columns])
        return fit_transfer(table.X, table.score, table.groups, cols, meta, log, settings.transfer_locality, seed,
                            grouped=settings.transfer_kernel == "grouped", spread=settings.transfer_spread)
    return fit_smooth(table.X, table.score, log, settings.kappa, seed)


def _untried(table: TrainingTable) -> float:
    """Share of the space's configs (over the model's parameters) that no run tried (variants.untried_share)."""
    params = [p for p in table.layout.params if p in table.space.tunable]
    cols = [j for j, c in enumerate(table.layout.columns) if c.source == "param" and c.key in params]
    tried = len(np.unique(np.nan_to_num(table.X[:, cols], nan=-1e300), axis=0)) if cols else 1
    sub = table.space.without(*[n for n in table.space.names if n not in params])
    return untried_share(tried, sub.grid_size())


def _dataset_meta(table: TrainingTable) -> list[list[float | None]]:
    cols = [c.source == "meta" for c in table.layout.columns]
    firsts = [int(np.flatnonzero(table.groups == g)[0]) for g in range(len(table.datasets))]
    return [[float(v) if np.isfinite(v) else None for v in table.X[i][cols]] for i in firsts]
