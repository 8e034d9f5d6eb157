"""Lookup-mode scoring: every config of a discrete space has a known result on each dataset.

A config is addressed by its mixed-radix index into the grid (`GridIndex`), so a table of a quarter
of a million results is a few numpy arrays rather than a dict of tuples, and coverage ("does every
config have a result?") is a NaN check. Pure: numpy only.

Scores follow the meta-learner's convention (knowledge/meta_learner/features.py): higher metric is better,
the percentile of a config is its average rank among the dataset's configs, 0 = worst, 1 = best.
Tested in tests/evaluate/test_records.py.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel

from metallmix_wandb.space.search_space import SearchSpace, SearchSpaceError


class LookupTableError(ValueError):
    """The table cannot score this space or dataset; the message says what is missing."""


def value_label(value: Any) -> str:
    """One canonical string per value: 32, 32.0 and "32" meet; 1e-3 and 0.001 meet; bools stay bools."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{float(value):.10g}"
    if isinstance(value, str):
        s = value.strip()
        try:
            return f"{float(s):.10g}" if s and s.lower() not in ("nan", "inf", "-inf", "infinity") else s
        except ValueError:
            return s
    return json.dumps(value, sort_keys=True, default=str)


def config_key(config: Mapping[str, Any], names: Sequence[str]) -> tuple[str, ...]:
    """A hashable key of a config over the given parameter names (missing -> '')."""
    return tuple(value_label(config[n]) if n in config else "" for n in names)


class GridIndex:
    """Mixed-radix addressing of a fully discrete space's configs (first parameter slowest, as
    `SearchSpace.iter_grid`)."""

    def __init__(self, space: SearchSpace, max_size: int = 5_000_000) -> None:
        size = space.grid_size()
        if size is None:
            raise LookupTableError("lookup mode needs a discrete space (every parameter a `values` list or an "
                               "integer range); this one has continuous parameters")
        if size > max_size:
            raise LookupTableError(f"the space has {size:,} configs; lookup mode scores at most {max_size:,}")
        self.space = space
        self.names = [n for n, s in space.params.items() if s.kind != "constant"]
        self.values: dict[str, list[Any]] = {}
        self.labels: dict[str, dict[str, int]] = {}
        for name in self.names:
            try:
                vals = list(space.params[name].values or []) or list(_range(space, name))
            except SearchSpaceError as exc:  # pragma: no cover - grid_size() already checked
                raise LookupTableError(str(exc)) from exc
            self.values[name] = vals
            self.labels[name] = {value_label(v): i for i, v in enumerate(vals)}
        self.radix = [len(self.values[n]) for n in self.names]
        strides, acc = [], 1
        for r in reversed(self.radix):
            strides.append(acc)
            acc *= r
        self.strides = list(reversed(strides))
        self.size = acc

    def code(self, config: Mapping[str, Any]) -> int | None:
        """The config's index, or None when a value is not in the grid."""
        total = 0
        for name, stride in zip(self.names, self.strides, strict=True):
            i = self.labels[name].get(value_label(config.get(name)))
            if i is None:
                return None
            total += i * stride
        return total

    def codes(self, columns: Mapping[str, Sequence[str]]) -> np.ndarray:
        """Vectorised `code` over columns of labels (one list per parameter); -1 where unknown."""
        n = len(next(iter(columns.values()))) if columns else 0
        out = np.zeros(n, dtype=np.int64)
        bad = np.zeros(n, dtype=bool)
        for name, stride in zip(self.names, self.strides, strict=True):
            if name not in columns:
                raise LookupTableError(f"the table has no column for parameter '{name}'")
            lookup = self.labels[name]
            idx = np.fromiter((lookup.get(v, -1) for v in columns[name]), dtype=np.int64, count=n)
            bad |= idx < 0
            out += np.where(idx < 0, 0, idx) * stride
        out[bad] = -1
        return out

    def config(self, code: int) -> dict[str, Any]:
        """The config at an index (constants included)."""
        out = dict(self.space.constants)
        for name, stride, r in zip(self.names, self.strides, self.radix, strict=True):
            out[name] = self.values[name][(code // stride) % r]
        return {n: out[n] for n in self.space.params}


def _range(space: SearchSpace, name: str) -> Iterable[Any]:
    from metallmix_wandb.space.values import discrete_values

    seq = discrete_values(space.params[name])
    if seq is None:
        raise SearchSpaceError(name, "continuous")
    return [seq[i] for i in range(len(seq))]


class Score(BaseModel):
    """How good one chosen config is on one dataset, by the table."""

    metric: float
    best_metric: float
    worst_metric: float
    regret: float
    norm_regret: float
    percentile: float
    train_time_s: float | None = None
    missing: bool = False
    """The table has no result for the config (it crashed or timed out there): scored as the worst."""


class DatasetResults:
    """One dataset's metric (and training time) for every config of the grid."""

    def __init__(self, metric: np.ndarray, time: np.ndarray) -> None:
        self.metric = metric
        self.time = time
        known = metric[np.isfinite(metric)]
        self.sorted = np.sort(known)
        self.known = len(known)

    def score(self, code: int) -> Score:
        m = float(self.metric[code])
        if not math.isfinite(m):  # a gap in the table: a config that crashed or timed out is a failure
            return self.failure().model_copy(update={"missing": True})
        s, n = self.sorted, len(self.sorted)
        less = int(np.searchsorted(s, m, side="left"))
        equal = int(np.searchsorted(s, m, side="right")) - less
        pct = 0.5 if n < 2 else (less + (equal - 1) / 2.0) / (n - 1.0)
        best, worst = float(s[-1]), float(s[0])
        span = best - worst
        t = float(self.time[code])
        return Score(metric=m, best_metric=best, worst_metric=worst, regret=best - m,
                     norm_regret=(best - m) / span if span > 0 else 0.0, percentile=pct,
                     train_time_s=t if math.isfinite(t) else None)

    def failure(self) -> Score:
        """What a method that returned nothing scores: the dataset's worst config."""
        best, worst = float(self.sorted[-1]), float(self.sorted[0])
        return Score(metric=worst, best_metric=best, worst_metric=worst, regret=best - worst,
                     norm_regret=1.0 if best > worst else 0.0, percentile=0.0)


class LookupTable:
    """Results per dataset over one grid; built from index codes (see `GridIndex.codes`)."""

    def __init__(self, grid: GridIndex) -> None:
        self.grid = grid
        self.datasets: dict[str, DatasetResults] = {}

    def add(self, dataset: str, codes: np.ndarray, metric: np.ndarray, time: np.ndarray | None = None) -> None:
        """Results of one dataset; repeated configs are averaged (several seeds of one config)."""
        ok = (codes >= 0) & np.isfinite(metric)
        codes, metric = codes[ok], np.asarray(metric, dtype=np.float64)[ok]
        t = np.full(len(codes), np.nan) if time is None else np.asarray(time, dtype=np.float64)[ok]
        n = np.bincount(codes, minlength=self.grid.size).astype(np.float64)
        total = np.bincount(codes, weights=metric, minlength=self.grid.size)
        t_ok = np.isfinite(t)
        tn = np.bincount(codes[t_ok], minlength=self.grid.size).astype(np.float64)
        tt = np.bincount(codes[t_ok], weights=t[t_ok], minlength=self.grid.size)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.datasets[dataset] = DatasetResults(np.where(n > 0, total / n, np.nan),
                                                    np.where(tn > 0, tt / tn, np.nan))

    def missing(self, dataset: str) -> int:
        """Configs of the grid with no result for this dataset (all of them for an unknown dataset)."""
        results = self.datasets.get(dataset)
        return self.grid.size if results is None else self.grid.size - results.known

    def require_results(self, dataset: str) -> None:
        """A dataset can be scored with gaps (a missing config scores as its worst), not with none."""
        if self.missing(dataset) >= self.grid.size:
            raise LookupTableError(
                f"the lookup table has no result on '{dataset}' for any of the {self.grid.size:,} configs of "
                "the space: pass the table with its results (--lookup TABLE), or a --space that matches it")

    def gap_note(self, datasets: Sequence[str], names: Mapping[str, str]) -> str | None:
        """One line saying how many configs each dataset lacks, None when the table is complete."""
        gaps = [f"{names.get(d, d)} {self.missing(d):,} of {self.grid.size:,}" for d in datasets if self.missing(d)]
        if not gaps:
            return None
        return ("lookup table gaps (configs with no result, scored as the dataset's worst when chosen): "
                + ", ".join(gaps))

    def value(self, dataset: str, config: Mapping[str, Any]) -> float | None:
        code = self.grid.code(config)
        if code is None:
            return None
        v = float(self.datasets[dataset].metric[code])
        return v if math.isfinite(v) else None

    def time(self, dataset: str, config: Mapping[str, Any]) -> float | None:
        code = self.grid.code(config)
        if code is None:
            return None
        v = float(self.datasets[dataset].time[code])
        return v if math.isfinite(v) else None

    def score(self, dataset: str, config: Mapping[str, Any] | None) -> Score:
        results = self.datasets[dataset]
        if config is None:
            return results.failure()
        code = self.grid.code(config)
        if code is None:
            raise LookupTableError(f"config outside the grid: {dict(config)}")
        return results.score(code)
