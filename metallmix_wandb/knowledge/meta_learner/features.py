"""The meta-learner's feature table: experiments + search space -> numbers. Pure (numpy only).

Columns, named so SHAP stays readable per value:
- numeric meta-features as `meta/<name>`; categorical ones one-hot as `meta/<name>=<value>`;
- numeric hyperparameters as `<name>` (raw values); categorical ones one-hot as `<name>=<value>`.

No log10 column is added for learning rates and the like: tree splits are invariant to a monotone
transform (XGBoost's hist bins are quantiles), so a second `log10(learning_rate)` column would only
split the SHAP credit of one parameter over two columns. Instead a column is flagged `log` when its
values span decades, and the SHAP summary bins and correlates it on a log10 scale.

Targets: the run's percentile within its dataset (ties averaged; the ranking target, DESIGN.md §4),
the raw metric, and log1p of the training time (NaN where a run has none).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from metallmix_wandb.knowledge.meta_learner.variants import derive_meta
from metallmix_wandb.knowledge.records import Experiment, MetaValue
from metallmix_wandb.numbers import finite_or_none, is_finite
from metallmix_wandb.space.search_space import SearchSpace, flatten_config

MIN_RUNS = 10
"""Fewer runs than this cannot train (let alone validate) a model worth storing."""
MAX_LEVELS = 10
"""An inferred numeric parameter with at most this many distinct values is a `values:` list."""
LOG_SPAN = 10.0
"""A positive column whose max/min exceeds this is summarised on a log10 scale."""
NOT_PARAMS = frozenset({"dataset", "dataset_name"})
MAX_CATEGORIES = 20
"""An inferred text parameter with more distinct values than this is an id or a note, not a choice."""
MAX_LABEL_CHARS = 40
"""Text longer than this, or with whitespace, is free text (a comment), not a category name."""


class MetaLearnerError(ValueError):
    """The runs cannot train a useful meta-learner; the message says what is missing."""


class Column(BaseModel):
    """One model input column and where it comes from."""

    name: str = Field(description="learning_rate, base_model=resnet50, meta/n_instances, meta/modality=US")
    feature: str = Field(description="the original name the column belongs to (its one-hot group)")
    source: Literal["param", "meta"]
    kind: Literal["numeric", "onehot"]
    key: str = Field(description="key in the config (param) or in the meta-features (meta)")
    category: str | None = Field(None, description="the category label of a one-hot column")
    log: bool = False


class FeatureLayout(BaseModel):
    """The column layout, stored with the model so a candidate is encoded exactly like the runs."""

    columns: list[Column]
    params: list[str] = Field(description="hyperparameters the model sees")
    unvaried: list[str] = Field(default_factory=list, description="parameters/meta-features never varied")
    observed_mode: dict[str, Any] = Field(default_factory=dict, description="commonest value per parameter")
    derived_meta: bool = Field(False, description="ratio meta-features are derived at encode time (variants.py)")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def log_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.log]

    def log_flags(self) -> np.ndarray:
        """Per column: its values span decades (a log10 scale)."""
        return np.array([c.log for c in self.columns], dtype=bool)

    def row(self, meta: Mapping[str, MetaValue], config: Mapping[str, Any]) -> np.ndarray:
        return self.matrix([(meta, config)])[0]

    def matrix(self, rows: Sequence[tuple[Mapping[str, MetaValue], Mapping[str, Any]]]) -> np.ndarray:
        """Encode (meta-features, flat config) pairs. Missing values are NaN (XGBoost's 'missing');
        a category the runs never had is all zeros in its group."""
        if self.derived_meta:
            rows = [(derive_meta(m), c) for m, c in rows]
        X = np.full((len(rows), len(self.columns)), np.nan, dtype=np.float64)
        for j, col in enumerate(self.columns):
            values = [(m if col.source == "meta" else c).get(col.key, None) for m, c in rows]
            if col.kind == "numeric":
                X[:, j] = [_number(v) for v in values]
            else:
                X[:, j] = [math.nan if v is None else _is(v, col.category) for v in values]
        return X

    def candidates(self, meta: Mapping[str, MetaValue],
                   choices: Mapping[str, tuple[Sequence[Any], np.ndarray]], n: int) -> np.ndarray:
        """Encode n candidate configs given as, per parameter, (distinct values, index per candidate):
        vectorised, so a whole grid of tens of thousands of configs encodes in milliseconds."""
        X = np.full((n, len(self.columns)), np.nan, dtype=np.float64)
        base = self.row(meta, {})
        for j, col in enumerate(self.columns):
            if col.source == "meta" or col.key not in choices:
                X[:, j] = base[j]
                continue
            values, idx = choices[col.key]
            if col.kind == "numeric":
                lookup = np.array([_number(v) for v in values], dtype=np.float64)
            else:
                lookup = np.array([_is(v, col.category) for v in values], dtype=np.float64)
            X[:, j] = lookup[idx]
        return X


def feature_row(layout: FeatureLayout, meta: Mapping[str, MetaValue],
                config: Mapping[str, Any]) -> np.ndarray:
    """One candidate config for one dataset, as the model's input row."""
    return layout.row(meta, flatten_config(config))


def category_label(value: Any) -> str:
    """A stable text label for a category (64.0 and 64 are one value)."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, sort_keys=True, default=str)


def _is(value: Any, category: str | None) -> float:
    return float(category_label(value) == category)


def _number(value: Any) -> float:
    """A finite number as a float, anything else NaN (XGBoost's 'missing')."""
    number = finite_or_none(value)
    return math.nan if number is None else number


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _spans_decades(values: Sequence[float]) -> bool:
    vals = [v for v in values if math.isfinite(v)]
    return bool(vals) and min(vals) > 0 and max(vals) / min(vals) > LOG_SPAN


# --------------------------------------------------------------------------- search space


def infer_space(experiments: Sequence[Experiment], min_share: float = 0.5) -> SearchSpace:
    """A search space read off the runs' configs, for projects without a sweep YAML: keys present
    in at least `min_share` of the runs; strings/bools -> `values`, numbers with few levels ->
    `values`, other numbers -> a min/max range (log-uniform when they span decades). Free text and
    per-run labels (`_not_a_choice`) are left out."""
    configs = [flatten_config(e.config) for e in experiments]
    counts = Counter(k for c in configs for k in c)
    params: dict[str, Any] = {}
    for key in sorted(counts):
        if key in NOT_PARAMS or key.startswith(("meta/", "_")) or counts[key] < min_share * len(configs):
            continue
        values = [c[key] for c in configs if c.get(key) is not None]
        distinct: dict[str, Any] = {}
        for v in values:
            distinct.setdefault(category_label(v), v)
        if not distinct or _not_a_choice(list(distinct.values()), len(values)):
            continue
        if len(distinct) == 1:
            params[key] = {"value": next(iter(distinct.values()))}
        elif all(_is_number(v) for v in distinct.values()):
            params[key] = _numeric_param(list(distinct.values()))
        else:
            params[key] = {"values": [distinct[k] for k in sorted(distinct)]}
    if not params:
        raise MetaLearnerError("the runs' configs hold no hyperparameters, only dataset and meta/... keys")
    return SearchSpace.from_sweep_config({"method": "random", "parameters": params})


def _not_a_choice(distinct: list[Any], runs: int) -> bool:
    """Free text (a `comment`, a note) or a high-cardinality label (an id per run): never a hyperparameter
    of an inferred space, or every recommended config would carry it."""
    if any(isinstance(v, str) and (len(v) > MAX_LABEL_CHARS or any(c.isspace() for c in v))
           for v in distinct):
        return True
    labels = [v for v in distinct if not _is_number(v)]
    return len(labels) > MAX_CATEGORIES or (runs > MAX_LEVELS and len(labels) > runs / 2)


def _numeric_param(values: list[Any]) -> dict[str, Any]:
    if len(values) <= MAX_LEVELS:
        return {"values": sorted(values)}
    lo, hi = min(values), max(values)
    if all(isinstance(v, int) for v in values):
        return {"distribution": "int_uniform", "min": lo, "max": hi}
    lo, hi = float(lo), float(hi)
    if _spans_decades([lo, hi]):
        return {"distribution": "log_uniform_values", "min": lo, "max": hi}
    return {"distribution": "uniform", "min": lo, "max": hi}


def model_space(space: SearchSpace) -> SearchSpace:
    """The space without the keys that name the dataset (a sweep YAML may sweep `dataset`)."""
    drop = [n for n in space.params if n in NOT_PARAMS or n.startswith("meta/")]
    return space.without(*drop) if drop else space


# --------------------------------------------------------------------------- layout


def build_layout(experiments: Sequence[Experiment], space: SearchSpace, derived_meta: bool = False) -> FeatureLayout:
    """Columns for every tunable parameter and meta-feature the runs actually vary (meta-features
    that never vary are dropped, listed in `unvaried`)."""
    configs = [space.flatten(e.config) for e in experiments]
    columns: list[Column] = []
    unvaried: list[str] = []
    modes: dict[str, Any] = {}
    for name, spec in space.tunable.items():
        if name in NOT_PARAMS:
            continue
        observed = [c[name] for c in configs if c.get(name) is not None]
        if observed:
            label = Counter(category_label(v) for v in observed).most_common(1)[0][0]
            modes[name] = next(v for v in observed if category_label(v) == label)
        allowed = list(spec.values or []) if spec.kind == "categorical" else []
        numeric = spec.kind in ("int", "float") or (bool(allowed) and all(_is_number(v) for v in allowed))
        cols = _param_columns(name, spec.log, numeric, allowed, observed)
        if cols:
            columns.extend(cols)
        else:
            unvaried.append(name)
    metas = [derive_meta(e.meta_features) if derived_meta else e.meta_features for e in experiments]
    for key in sorted({k for m in metas for k in m}):
        vals = [m[key] for m in metas if key in m]
        if all(_is_number(v) for v in vals):
            nums = [_number(v) for v in vals]
            if len({v for v in nums if math.isfinite(v)}) > 1:
                columns.append(Column(name=f"meta/{key}", feature=f"meta/{key}", source="meta",
                                      kind="numeric", key=key, log=_spans_decades(nums)))
                continue
        else:
            cats = sorted({category_label(v) for v in vals})
            if len(cats) > 1:
                columns.extend(Column(name=f"meta/{key}={c}", feature=f"meta/{key}", source="meta",
                                      kind="onehot", key=key, category=c) for c in cats)
                continue
        unvaried.append(f"meta/{key}")
    if not any(c.source == "param" for c in columns):
        raise MetaLearnerError(
            "no hyperparameter varies across the runs: the model would have nothing to recommend "
            f"(parameters: {sorted(space.tunable)})")
    params = list(dict.fromkeys(c.key for c in columns if c.source == "param"))
    return FeatureLayout(columns=columns, params=params, unvaried=unvaried, observed_mode=modes,
                         derived_meta=derived_meta)


def _param_columns(name: str, log: bool, numeric: bool, allowed: list[Any],
                   observed: list[Any]) -> list[Column]:
    if numeric and all(_is_number(v) for v in observed):
        nums = [_number(v) for v in observed]
        if len(set(nums)) < 2:
            return []
        return [Column(name=name, feature=name, source="param", kind="numeric", key=name,
                       log=log or _spans_decades(nums))]
    cats = list(dict.fromkeys(category_label(v) for v in allowed))
    seen = sorted({category_label(v) for v in observed})
    if len(seen) < 2:
        return []
    cats += [c for c in seen if c not in cats]
    return [Column(name=f"{name}={c}", feature=name, source="param", kind="onehot", key=name, category=c)
            for c in cats]


# --------------------------------------------------------------------------- targets


def average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties given their average rank (as scipy.stats.rankdata 'average')."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_x)) + 1]
    ends = np.r_[starts[1:], len(x)]
    ranks = np.empty(len(x), dtype=np.float64)
    for s, e in zip(starts, ends, strict=True):
        ranks[order[s:e]] = (s + e + 1) / 2.0
    return ranks


def percentile_rank(x: np.ndarray) -> np.ndarray:
    """0 = the dataset's worst run, 1 = its best; ties averaged; a lone run sits at 0.5."""
    n = len(x)
    return np.full(n, 0.5) if n < 2 else (average_ranks(x) - 1.0) / (n - 1.0)


@dataclass
class TrainingTable:
    """Everything the adapter fits on; rows sorted by run path so a refit is bit-identical."""

    layout: FeatureLayout
    space: SearchSpace
    X: np.ndarray
    score: np.ndarray
    raw: np.ndarray
    log_time: np.ndarray
    groups: np.ndarray
    datasets: list[str]
    run_paths: list[str]


def _content_key(e: Experiment, metric: str) -> tuple[str, str, float, str]:
    """Rows ordered by what they hold, not by their ids: the boosters subsample rows by position, so
    an order from run ids (which differ between projects holding the same runs) changed the fit."""
    body = json.dumps([e.config, e.meta_features], sort_keys=True, default=str)
    return (e.dataset, body, float(e.summary[metric]), e.run_path)


def build_table(experiments: Sequence[Experiment], space: SearchSpace | None, metric: str,
                min_runs: int = MIN_RUNS, derived_meta: bool = False) -> TrainingTable:
    """Check the runs can train a useful model (else a MetaLearnerError naming what is missing) and
    build the table. A single dataset is allowed: the model fits, LODO quality just cannot be measured."""
    exps = sorted((e for e in experiments if is_finite(e.summary.get(metric))), key=lambda e: _content_key(e, metric))
    if len(exps) < min_runs:
        raise MetaLearnerError(
            f"only {len(exps)} runs with a finite '{metric}' (of {len(experiments)} in the knowledge base); "
            f"the meta-learner needs at least {min_runs}: run more of the sweep, then sync again")
    space = model_space(space) if space is not None else infer_space(exps)
    raw = np.array([e.summary[metric] for e in exps], dtype=np.float64)
    if np.ptp(raw) == 0:
        raise MetaLearnerError(
            f"every run has {metric} = {raw[0]:g}: a constant target leaves nothing to learn")
    datasets = sorted({e.dataset for e in exps})
    groups = np.array([datasets.index(e.dataset) for e in exps])
    score = np.empty(len(exps))
    for g in range(len(datasets)):
        score[groups == g] = percentile_rank(raw[groups == g])
    if np.ptp(score) == 0:
        raise MetaLearnerError(
            f"no dataset has two runs with different {metric}: ranking configs within a dataset needs "
            "several runs per dataset")
    times = np.array([_time(e.train_time_s) for e in exps])
    if np.isfinite(times).sum() < min_runs:
        raise MetaLearnerError(
            f"only {int(np.isfinite(times).sum())} of {len(exps)} runs have a training time "
            f"(summary 'train_time_s' or '_runtime'); the time model needs at least {min_runs}")
    layout = build_layout(exps, space, derived_meta)
    X = layout.matrix([(e.meta_features, space.flatten(e.config)) for e in exps])
    return TrainingTable(layout=layout, space=space, X=X, score=score, raw=raw, log_time=np.log1p(times),
                         groups=groups, datasets=datasets, run_paths=[e.run_path for e in exps])


def _time(v: float | None) -> float:
    return float(v) if v is not None and math.isfinite(v) and v >= 0 else math.nan

