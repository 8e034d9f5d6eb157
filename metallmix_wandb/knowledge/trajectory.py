"""Trajectory Context Summarizer (TCS), per run: raw per-epoch curves -> a few structured facts.

A small LLM cannot read a table of epochs and losses reliably, but it can use "best at epoch 3, then
a plateau, train-val gap 0.12 (overfitting), NaN loss". This module computes those facts
deterministically from a run's history (and its summary's training time), so the analysis agent,
the prompt and the knowledge base all see the same numbers. Pure: plain data in, a pydantic model out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

from metallmix_wandb.knowledge.records import TrajectorySummary
from metallmix_wandb.numbers import finite_or_none

WINDOW = 3
"""Epochs the slope is fitted over (the last ones): long enough to see a trend, short enough to be recent."""
PLATEAU_TOL = 0.005
"""|slope| per epoch below which a curve is a plateau (0.5 percentage point of accuracy per epoch)."""
BLOWUP = 2.0
"""A final training loss above this multiple of its first value counts as diverged."""


def _nonfinite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and not math.isfinite(value)


def goal_of(metric: str) -> str:
    """Losses and errors are minimised, everything else (accuracy, F1, AUC) maximised."""
    low = metric.lower()
    return "minimize" if any(w in low for w in ("loss", "error", "mae", "mse")) else "maximize"


def train_metric_for(metric: str) -> str:
    """The training-set twin of a validation metric: val/acc -> train/acc."""
    return metric.replace("val/", "train/", 1) if metric.startswith("val/") else f"train/{metric.split('/')[-1]}"


def slope(values: Sequence[float]) -> float | None:
    """Least-squares slope per step; None for fewer than two points."""
    n = len(values)
    if n < 2:
        return None
    mean_x, mean_y = (n - 1) / 2.0, sum(values) / n
    num = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values))
    den = sum((i - mean_x) ** 2 for i in range(n))
    return num / den


def volatility(values: Sequence[float]) -> float | None:
    """Population std of the epoch-to-epoch changes; None below three points (one change says nothing)."""
    if len(values) < 3:
        return None
    diffs = [b - a for a, b in pairwise(values)]
    mean = sum(diffs) / len(diffs)
    return math.sqrt(sum((d - mean) ** 2 for d in diffs) / len(diffs))


def trend_of(signed_slope: float | None, diverged: bool, tol: float = PLATEAU_TOL) -> str:
    """improving / plateau / diverging from a slope already signed so that positive = better."""
    if diverged:
        return "diverging"
    if signed_slope is None:
        return "too short"
    if signed_slope > tol:
        return "improving"
    if signed_slope < -tol:
        return "diverging"
    return "plateau"


def _diverged(history: Sequence[Mapping[str, Any]], loss_keys: Sequence[str]) -> bool:
    for key in loss_keys:
        raw = [row.get(key) for row in history if key in row]
        if any(_nonfinite_number(v) for v in raw):
            return True
        values = [f for v in raw if (f := finite_or_none(v)) is not None]
        if key.startswith("train/") and len(values) >= 2 and values[0] > 0 and values[-1] > BLOWUP * values[0]:
            return True
    return False


def _gap(history: Sequence[Mapping[str, Any]], metric: str, goal: str) -> float | None:
    """train - val (maximised metrics) or val - train (minimised), at the last epoch holding both."""
    twin = train_metric_for(metric)
    for row in reversed(history):
        val, train = finite_or_none(row.get(metric)), finite_or_none(row.get(twin))
        if val is not None and train is not None:
            return train - val if goal == "maximize" else val - train
    return None


def summarise_curve(
    history: Sequence[Mapping[str, Any]],
    metric: str = "val/acc",
    *,
    goal: str | None = None,
    train_time_s: float | None = None,
    crashed: bool = False,
    window: int = WINDOW,
    plateau_tol: float = PLATEAU_TOL,
) -> TrajectorySummary:
    """The TCS of one run. `best_epoch` is the index into `history` (rows may lack `epoch`);
    `train_time_s` (the summary's) gives the time per epoch; `crashed` is the caller's verdict on
    the run (it did not finish), kept with the curve so a summary of a crashed trial says so."""
    goal = goal or goal_of(metric)
    sign = 1.0 if goal == "maximize" else -1.0
    values = [(i, finite_or_none(row.get(metric))) for i, row in enumerate(history)]
    points = [(i, v) for i, v in values if v is not None]
    loss_keys = sorted({k for row in history for k in row if k.endswith("/loss")})
    diverged = _diverged(history, loss_keys) or any(_nonfinite_number(row.get(metric)) for row in history)
    epochs = len(history)
    time_per_epoch = None
    t = finite_or_none(train_time_s)
    if t is not None and epochs > 0:
        time_per_epoch = t / epochs
    if not points:
        return TrajectorySummary(epochs=epochs, metric=metric, goal=goal, diverged=diverged, crashed=crashed,
                                 trend="diverging" if diverged else "too short", time_per_epoch_s=time_per_epoch)
    best_i, best_v = max(points, key=lambda p: (sign * p[1], -p[0]))  # earliest of equal bests
    recent = [v for _, v in points[-max(2, window):]]
    raw_slope = slope(recent)
    return TrajectorySummary(
        epochs=epochs, best_epoch=best_i, best_value=best_v, final_value=points[-1][1], metric=metric, goal=goal,
        train_val_gap=_gap(history, metric, goal), slope=raw_slope,
        trend=trend_of(None if raw_slope is None else sign * raw_slope, diverged, plateau_tol),
        volatility=volatility([v for _, v in points]), time_per_epoch_s=time_per_epoch,
        diverged=diverged, crashed=crashed,
    )


def describe(summary: TrajectorySummary, digits: int = 4) -> dict[str, Any]:
    """The summary as the prompt shows it: rounded, None fields dropped, flags only when set."""

    def r(x: float | None) -> float | None:
        return None if x is None else float(f"{x:.{digits}g}")

    out: dict[str, Any] = {
        "epochs": summary.epochs, "best_epoch": summary.best_epoch, "best": r(summary.best_value),
        "final": r(summary.final_value), "train_val_gap": r(summary.train_val_gap), "trend": summary.trend,
        "slope_per_epoch": r(summary.slope), "volatility": r(summary.volatility),
        "time_per_epoch_s": r(summary.time_per_epoch_s),
    }
    if summary.diverged:
        out["diverged"] = True
    if summary.crashed:
        out["crashed"] = True
    return {k: v for k, v in out.items() if v is not None}
