"""Trajectory Context Summarizer, across trials: best-so-far, and which parameter changes helped.

Two views of the same few trials, both deterministic:
- one-change pairs: two trials whose configs differ in exactly one parameter are a controlled
  experiment, so the metric difference is that parameter's effect here (a crash counts too);
- value averages: where trials differ in several parameters at once, the mean metric of the trials
  with a value against the mean of the others (confounded, so the prompt labels it as an aggregate).
Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

from pydantic import BaseModel, Field

from metallmix_wandb.space.values import same_value
from metallmix_wandb.tune.records import TuneTrial, best_trial, better

SAME_TOL = 1e-9


class OneChange(BaseModel):
    """Trial `before_trial` -> `after_trial` changed only `parameter`."""

    parameter: str
    before: Any = None
    after: Any = None
    before_trial: int
    after_trial: int
    delta: float | None = Field(None, description="metric(after) - metric(before); None when one crashed")
    outcome: str = Field(description="helped | hurt | same | crashed (the change made it crash) | recovered")


class ValueEffect(BaseModel):
    parameter: str
    value: Any = None
    trials: int = Field(description="finished trials with this value")
    mean: float
    delta: float = Field(description="mean with this value minus the mean of the other finished trials")


class TrialsDigest(BaseModel):
    best_so_far: list[float | None] = Field(default_factory=list, description="after each trial, in order")
    best_trial: int | None = None
    best_value: float | None = None
    one_change: list[OneChange] = Field(default_factory=list)
    value_effects: list[ValueEffect] = Field(default_factory=list)
    crashed: list[int] = Field(default_factory=list)
    diverged: list[int] = Field(default_factory=list)


def best_so_far(trials: Sequence[TuneTrial], goal: str = "maximize") -> list[float | None]:
    out: list[float | None] = []
    best: float | None = None
    for t in trials:
        if t.result.ok and (best is None or better(t.result.metric, best, goal)):  # type: ignore[arg-type]
            best = t.result.metric
        out.append(best)
    return out


def _differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    keys = list(dict.fromkeys([*a, *b]))
    return [k for k in keys if k not in a or k not in b or not same_value(a[k], b[k])]


def one_change_pairs(trials: Sequence[TuneTrial], goal: str = "maximize") -> list[OneChange]:
    """Every pair of trials whose configs differ in one parameter, in trial order."""
    sign = 1.0 if goal == "maximize" else -1.0
    out = []
    for a, b in combinations(sorted(trials, key=lambda t: t.number), 2):
        diff = _differences(a.result.config, b.result.config)
        if len(diff) != 1:
            continue
        (name,) = diff
        if a.result.ok and b.result.ok:
            delta = b.result.metric - a.result.metric  # type: ignore[operator]
            outcome = "same" if abs(delta) <= SAME_TOL else ("helped" if sign * delta > 0 else "hurt")
        elif a.result.ok:
            delta, outcome = None, "crashed"
        elif b.result.ok:
            delta, outcome = None, "recovered"
        else:
            continue  # both crashed: nothing learnt about the metric
        out.append(OneChange(parameter=name, before=a.result.config.get(name), after=b.result.config.get(name),
                             before_trial=a.number, after_trial=b.number, delta=delta, outcome=outcome))
    return out


def value_effects(trials: Sequence[TuneTrial], params: Sequence[str] | None = None) -> list[ValueEffect]:
    """Per parameter that finished trials varied, per value: mean metric with it vs without it."""
    done = [t for t in trials if t.result.ok]
    names = params if params is not None else list(dict.fromkeys(k for t in done for k in t.result.config))
    out = []
    for name in names:
        values: list[Any] = []
        for t in done:
            v = t.result.config.get(name)
            if not any(same_value(v, u) for u in values):
                values.append(v)
        if len(values) < 2:
            continue
        for v in values:
            inside = [t.result.metric for t in done if same_value(t.result.config.get(name), v)]
            rest = [t.result.metric for t in done if not same_value(t.result.config.get(name), v)]
            mean_in = sum(inside) / len(inside)  # type: ignore[arg-type]
            mean_rest = sum(rest) / len(rest)  # type: ignore[arg-type]
            out.append(ValueEffect(parameter=name, value=v, trials=len(inside), mean=mean_in,
                                   delta=mean_in - mean_rest))
    return out


def digest_trials(trials: Sequence[TuneTrial], goal: str = "maximize",
                  params: Sequence[str] | None = None) -> TrialsDigest:
    """The across-trials part of the TCS. `params`: the tunable parameters (constants never differ)."""
    best = best_trial(trials, goal)
    return TrialsDigest(
        best_so_far=best_so_far(trials, goal), best_trial=best.number if best else None,
        best_value=best.result.metric if best else None, one_change=one_change_pairs(trials, goal),
        value_effects=value_effects(trials, params),
        crashed=[t.number for t in trials if not t.result.ok],
        diverged=[t.number for t in trials if t.curve.diverged],
    )
