"""Summaries of TreeSHAP values, and a plain-language digest of them. Pure (numpy only).

As in the MetaLLMiX paper (§2.2): per feature the mean |SHAP|; the mean SHAP grouped by feature
value (one-hot groups per category, numeric features per distinct value when there are at most 10,
else per quantile bin); and the Pearson correlation between a feature's value and its SHAP value,
which gives the direction. One-hot columns `name=value` are grouped back to `name`: a group's SHAP
value for a row is the sum over its columns, so it is the whole effect of that parameter.

The digest is deterministic text built from these numbers (no LLM): it feeds the prompt later.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from metallmix_wandb.knowledge.meta_learner.quality import pearson
from metallmix_wandb.numbers import short

MAX_DISTINCT = 10
N_BINS = 5
META_PREFIX = "meta/"
Groups = Mapping[str, tuple[str, str | None]]
"""column name -> (feature, category or None), when names do not follow `feature=category`."""


class ValueEffect(BaseModel):
    """Mean SHAP of a feature over the rows that have one value (or fall in one bin)."""

    value: str
    count: int
    mean_shap: float
    low: float | None = Field(None, description="bin bounds of a numeric feature with many values")
    high: float | None = None
    correlation: float | None = Field(None, description="categories: Pearson r of 'is this value' with SHAP")


class FeatureImportance(BaseModel):
    feature: str
    source: Literal["param", "meta"]
    kind: Literal["numeric", "categorical"]
    mean_abs_shap: float
    correlation: float | None = Field(None, description="numeric: Pearson r of value (log10 if log) and SHAP")
    log: bool = False
    by_value: list[ValueEffect] = Field(default_factory=list)
    best: str | None = None
    worst: str | None = None
    columns: list[str] = Field(default_factory=list)


class LocalExplanation(BaseModel):
    """One of a row's most influential features: its value in that row and its signed SHAP."""

    feature: str
    value: Any = None
    shap: float


class ShapSummary(BaseModel):
    target: str
    base_value: float
    rows: int
    features: list[FeatureImportance] = Field(description="most influential first")
    column_importance: dict[str, float] = Field(description="mean |SHAP| per model column")
    unvaried: list[str] = Field(default_factory=list, description="never varied in the runs: no evidence")

    def feature(self, name: str) -> FeatureImportance | None:
        return next((f for f in self.features if f.feature == name), None)


def _r(x: float) -> float:
    """6 significant digits: stable JSON, and no false precision in the digest."""
    return float(f"{x:.6g}")


def _ro(x: float | None) -> float | None:
    return None if x is None else _r(x)


def split_column(name: str) -> tuple[str, str | None]:
    """`base_model=resnet50` -> ('base_model', 'resnet50'); `learning_rate` -> ('learning_rate', None)."""
    feature, sep, category = name.partition("=")
    return (feature, category) if sep else (name, None)


def _groups(columns: Sequence[str], groups: Groups | None) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for j, name in enumerate(columns):
        feature = (groups or {}).get(name, split_column(name))[0]
        out.setdefault(feature, []).append(j)
    return out


def _category(name: str, groups: Groups | None) -> str | None:
    return (groups or {}).get(name, split_column(name))[1]


def summarise(
    shap_values: np.ndarray, X: np.ndarray, columns: Sequence[str], *, base_value: float, target: str = "",
    log_columns: Sequence[str] = (), groups: Groups | None = None,
    unvaried: Sequence[str] = (),
) -> ShapSummary:
    """Global summary of a SHAP matrix (rows x columns) over the rows of X it explains.

    `groups` maps a column to (feature, category) when names do not follow `feature=category`."""
    S, X = np.asarray(shap_values, dtype=np.float64), np.asarray(X, dtype=np.float64)
    if S.shape != X.shape or S.shape[1] != len(columns):
        raise ValueError(f"shapes differ: SHAP {S.shape}, X {X.shape}, {len(columns)} column names")
    logs = set(log_columns)
    features = []
    for feature, idx in _groups(columns, groups).items():
        cats = [_category(columns[j], groups) for j in idx]
        if all(c is not None for c in cats):
            features.append(_categorical(feature, S[:, idx], X[:, idx], [str(c) for c in cats],
                                         [columns[j] for j in idx]))
        else:
            j = idx[0]
            features.append(_numeric(feature, S[:, j], X[:, j], columns[j] in logs, columns[j]))
    features.sort(key=lambda f: (-f.mean_abs_shap, f.feature))
    column_importance = {c: _r(float(v)) for c, v in zip(columns, np.abs(S).mean(axis=0), strict=True)}
    return ShapSummary(
        target=target, base_value=_r(float(base_value)), rows=len(S), features=features,
        column_importance=dict(sorted(column_importance.items(), key=lambda kv: (-kv[1], kv[0]))),
        unvaried=list(unvaried),
    )


def _source(feature: str) -> Literal["param", "meta"]:
    return "meta" if feature.startswith(META_PREFIX) else "param"


def _best_worst(effects: list[ValueEffect]) -> tuple[str | None, str | None]:
    effects = [e for e in effects if e.value != "missing"]
    if not effects:
        return None, None
    best = max(effects, key=lambda e: (e.mean_shap, -effects.index(e)))
    worst = min(effects, key=lambda e: (e.mean_shap, effects.index(e)))
    return best.value, worst.value


def _categorical(feature: str, S: np.ndarray, X: np.ndarray, cats: list[str],
                 names: list[str]) -> FeatureImportance:
    total = S.sum(axis=1)
    effects = []
    for k, cat in enumerate(cats):
        active = X[:, k] == 1.0
        if active.any():
            effects.append(ValueEffect(
                value=cat, count=int(active.sum()), mean_shap=_r(float(total[active].mean())),
                correlation=_ro(pearson(active.astype(np.float64), total))))
    best, worst = _best_worst(effects)
    return FeatureImportance(
        feature=feature, source=_source(feature), kind="categorical",
        mean_abs_shap=_r(float(np.abs(total).mean())),
        by_value=effects, best=best, worst=worst, columns=names,
    )


def _numeric(feature: str, s: np.ndarray, x: np.ndarray, log: bool, name: str) -> FeatureImportance:
    ok = np.isfinite(x)
    xs = np.where(ok & (x > 0), np.log10(np.where(x > 0, x, 1.0)), np.nan) if log else x
    effects: list[ValueEffect] = []
    distinct = np.unique(x[ok])
    if len(distinct) <= MAX_DISTINCT:
        for v in distinct:
            m = x == v
            effects.append(ValueEffect(value=short(float(v)), count=int(m.sum()),
                                       mean_shap=_r(float(s[m].mean()))))
    else:
        edges = np.unique(np.quantile(x[ok], np.linspace(0, 1, N_BINS + 1)))
        which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
        for b in range(len(edges) - 1):
            m = ok & (which == b)
            if m.any():
                lo, hi = float(edges[b]), float(edges[b + 1])
                effects.append(ValueEffect(value=f"[{short(lo)}, {short(hi)}]", count=int(m.sum()),
                                           mean_shap=_r(float(s[m].mean())), low=_r(lo), high=_r(hi)))
    if (~ok).any():
        effects.append(ValueEffect(value="missing", count=int((~ok).sum()),
                                   mean_shap=_r(float(s[~ok].mean()))))
    best, worst = _best_worst(effects)
    return FeatureImportance(
        feature=feature, source=_source(feature), kind="numeric", mean_abs_shap=_r(float(np.abs(s).mean())),
        correlation=_ro(pearson(xs, s)), log=log, by_value=effects, best=best, worst=worst, columns=[name],
    )


def local_top(
    shap_values: np.ndarray, X: np.ndarray, columns: Sequence[str], k: int = 3,
    groups: Groups | None = None,
) -> list[list[LocalExplanation]]:
    """Per row, the k features (one-hot groups summed) with the largest |SHAP|, with the row's value."""
    S, X = np.asarray(shap_values, dtype=np.float64), np.asarray(X, dtype=np.float64)
    grouped = _groups(columns, groups)
    names = list(grouped)
    G = np.stack([S[:, idx].sum(axis=1) for idx in grouped.values()], axis=1)
    order = np.argsort(-np.abs(G), axis=1, kind="stable")[:, :k]
    out = []
    for i in range(len(S)):
        row = []
        for g in order[i]:
            idx = grouped[names[g]]
            value = _row_value(X[i, idx], [columns[j] for j in idx], groups)
            row.append(LocalExplanation(feature=names[g], value=value, shap=_r(float(G[i, g]))))
        out.append(row)
    return out


def _row_value(x: np.ndarray, names: list[str], groups: Groups | None) -> Any:
    cats = [_category(n, groups) for n in names]
    if all(c is not None for c in cats):
        hot = np.flatnonzero(x == 1.0)
        return cats[int(hot[0])] if len(hot) else None
    v = float(x[0])
    return None if math.isnan(v) else (int(v) if v.is_integer() and abs(v) < 2**53 else v)


# --------------------------------------------------------------------------- digest


def _signed(x: float) -> str:
    return f"{x:+.3f}".replace("-", "−")


def _direction(f: FeatureImportance) -> str:
    r = f.correlation
    if r is None:
        return ""
    scale = " (on a log scale)" if f.log else ""
    if r >= 0.3:
        return f"; higher values help{scale} (r = {_signed(r)})"
    if r <= -0.3:
        return f"; lower values help{scale} (r = {_signed(r)})"
    return f"; no monotone trend (r = {_signed(r)})"


def _effect(f: FeatureImportance, label: str | None) -> str:
    e = next((v for v in f.by_value if v.value == label), None)
    return "" if e is None else f"{e.value} ({_signed(e.mean_shap)}, {e.count} runs)"


def describe_feature(f: FeatureImportance) -> str:
    """One line: importance, best and worst value with their mean SHAP, and the direction."""
    name = f.feature[len(META_PREFIX):] if f.source == "meta" else f.feature
    parts = f"**{name}** (mean |SHAP| {f.mean_abs_shap:.3f})"
    if f.best is not None and f.best != f.worst:
        parts += f": best {_effect(f, f.best)}, worst {_effect(f, f.worst)}"
    return parts + _direction(f)


def _extremes(features: list[FeatureImportance], sign: int, n: int = 3) -> list[str]:
    effects = [(sign * e.mean_shap, f.feature, e)
               for f in features for e in f.by_value if sign * e.mean_shap > 0]
    effects.sort(key=lambda t: (-t[0], t[1], t[2].value))
    return [f"{feat}={e.value} ({_signed(e.mean_shap)})" for _, feat, e in effects[:n]]


def digest(
    rank: ShapSummary, raw: ShapSummary | None = None, *, metric: str, runs: int, datasets: int,
    quality_line: str = "", project: str = "", top_params: int = 8, top_meta: int = 5,
) -> str:
    """Markdown: which parameters help or hurt, their best values, the influential meta-features."""
    lines = [f"# What past runs say{f' ({project})' if project else ''}", ""]
    lines.append(
        f"Learned from {runs} runs on {datasets} datasets. Target: `{metric}`, ranked within each dataset "
        "(0 = that dataset's worst run, 1 = its best); SHAP values below are in those units "
        f"(average prediction {rank.base_value:.3f}).")
    if quality_line:
        lines += ["", f"Model quality, {quality_line}."]
    params = [f for f in rank.features if f.source == "param"]
    if params:
        lines += ["", "## Hyperparameters, most influential first", ""]
        lines += [f"{i}. {describe_feature(f)}" for i, f in enumerate(params[:top_params], 1)]
        helps, hurts = _extremes(params, +1), _extremes(params, -1)
        if helps:
            lines += ["", "Helps most: " + ", ".join(helps) + "."]
        if hurts:
            lines += ["Hurts most: " + ", ".join(hurts) + "."]
    meta_rank = [f for f in rank.features if f.source == "meta" and f.mean_abs_shap > 0]
    meta_raw = [f for f in (raw.features if raw else []) if f.source == "meta"]
    if meta_raw or meta_rank:
        lines += ["", "## Dataset meta-features", ""]
    if meta_raw:
        lines.append(f"How they move the raw `{metric}` (which datasets are easy):")
        lines += [f"- {describe_feature(f)}" for f in meta_raw[:top_meta]]
    if meta_rank:
        lines += ["", "How they change which configs rank best (interactions with the hyperparameters):"]
        lines += [f"- {describe_feature(f)}" for f in meta_rank[:top_meta]]
    if rank.unvaried:
        lines += ["", f"Never varied in the runs, so no evidence either way: {', '.join(rank.unvaried)}."]
    return "\n".join(lines) + "\n"


def _compact_feature(f: FeatureImportance) -> str:
    name = f.feature[len(META_PREFIX):] if f.source == "meta" else f.feature
    if f.best is None or f.best == f.worst:
        return f"{name}: no clear best value"
    effects = {e.value: f" ({e.mean_shap:+.3f})" for e in f.by_value}  # ASCII minus: "−" is 3 tokens
    return f"{name}: best {f.best}{effects.get(f.best, '')}, worst {f.worst}{effects.get(f.worst, '')}"


def compact_digest(rank: ShapSummary, *, metric: str, top_params: int = 5, top_meta: int = 0) -> str:
    """The digest in the fewest tokens a prompt can carry it in (issue 13: ~1,200 tokens for the whole
    prompt): the influential hyperparameters, most first, each with its best and worst value and their
    mean SHAP, and optionally the meta-features that most change which configs rank best (their bins cost
    ~45 tokens each). The same numbers as `digest`, so an explanation that quotes one is checked against
    either."""
    lines = [f"{metric} percentile within each dataset; SHAP in those units; most influential first:"]
    lines += [_compact_feature(f) for f in rank.features if f.source == "param"][:top_params]
    meta = [f for f in rank.features if f.source == "meta" and f.mean_abs_shap > 0][:top_meta]
    lines += [f"meta-feature {_compact_feature(f)}" for f in meta]
    return "\n".join(lines)
