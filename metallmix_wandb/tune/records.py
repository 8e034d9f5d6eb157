"""Records of few-trial tuning (`tune`), shared by the loop, the agent, the logger and issue 6's lookup
evaluation: what a trial returned, what proposed it, and how the whole tune ended. Pure.
Tested in tests/tune/test_digest.py and tests/tune/test_loop.py.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from metallmix_wandb.recommend.record import ScoredConfig
from metallmix_wandb.knowledge.records import TrajectorySummary

TrialStatus = Literal["finished", "crashed"]
Objective = Literal["accuracy", "time"]
StopReason = Literal["budget", "target", "exhausted", "interrupted"]


class TrialResult(BaseModel):
    """What evaluating one config gave: a trained run, or a row looked up in a table (issue 6).

    `crashed` covers every trial without a usable metric (trainer exit 1, NaN loss, killed, timeout):
    the loop summarises it as crashed and goes on."""

    config: dict[str, Any]
    status: TrialStatus = "finished"
    metric: float | None = None
    train_time_s: float | None = None
    history: list[dict[str, Any]] = Field(default_factory=list, description="per-epoch rows, if any")
    summary: dict[str, Any] = Field(default_factory=dict)
    run_dir: str | None = Field(None, description="the trial's W&B run folder (trained trials)")
    run_path: str | None = Field(None, description="entity/project/run_id (trained trials)")
    error: str | None = None
    seconds: float | None = Field(None, description="wall time of the evaluation (training + overhead)")

    @property
    def ok(self) -> bool:
        return self.status == "finished" and self.metric is not None and math.isfinite(self.metric)


class Proposal(BaseModel):
    """The config chosen for the next trial and the reasoning that chose it (logged with the run)."""

    config: dict[str, Any]
    source: str = Field(description="recommend:<its source> | surrogate | llm | random")
    reasoning: str = ""
    predicted: ScoredConfig | None = Field(None, description="the surrogate's prediction when it was chosen")
    utility: float | None = Field(None, description="the surrogate's objective value (time-penalised score)")
    candidates: list[ScoredConfig] = Field(default_factory=list, description="LLM candidates as scored")
    warnings: list[str] = Field(default_factory=list)
    llm_s: float | None = None
    tokens: dict[str, int] = Field(default_factory=dict)


class TuneTrial(BaseModel):
    number: int = Field(ge=1)
    proposal: Proposal
    result: TrialResult
    curve: TrajectorySummary = Field(default_factory=TrajectorySummary)
    best_so_far: float | None = None


class TuneOutcome(BaseModel):
    trials: list[TuneTrial] = Field(default_factory=list)
    best: int | None = Field(None, description="number of the best finished trial")
    stop_reason: StopReason = "budget"
    pareto: list[int] = Field(default_factory=list, description="trial numbers on the metric/time front")
    warnings: list[str] = Field(default_factory=list)
    goal: str = "maximize"

    @property
    def best_trial(self) -> TuneTrial | None:
        return next((t for t in self.trials if t.number == self.best), None)

    @property
    def best_so_far(self) -> list[float | None]:
        return [t.best_so_far for t in self.trials]


# --------------------------------------------------------------------------- helpers


def config_key(config: Mapping[str, Any]) -> str:
    """A canonical text for a config, so 0.001 and 1e-3, 64 and 64.0 count as the same trial."""

    def canon(v: Any) -> Any:
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return v
        if isinstance(v, int | float):
            f = float(v)
            return repr(float(f"{f:.12g}")) if math.isfinite(f) else str(f)
        if isinstance(v, Mapping):
            return {str(k): canon(x) for k, x in sorted(v.items())}
        if isinstance(v, list | tuple):
            return [canon(x) for x in v]
        return str(v)

    return json.dumps(canon(dict(config)), sort_keys=True)


def better(a: float, b: float, goal: str) -> bool:
    return a > b if goal == "maximize" else a < b


def best_trial(trials: Sequence[TuneTrial], goal: str = "maximize") -> TuneTrial | None:
    """The finished trial with the best metric (the earliest of equals)."""
    best: TuneTrial | None = None
    for t in trials:
        if t.result.ok and (best is None or better(t.result.metric, best.result.metric, goal)):  # type: ignore[arg-type]
            best = t
    return best


def reached(target: float | None, value: float | None, goal: str) -> bool:
    if target is None or value is None:
        return False
    return value >= target if goal == "maximize" else value <= target


def pareto_front(trials: Sequence[TuneTrial], goal: str = "maximize") -> list[int]:
    """Finished trials with a training time that no other trial beats on both the metric and time
    (better or equal on both, strictly better on one); by training time, fastest first."""
    pts = [(t.number, t.result.metric, t.result.train_time_s) for t in trials
           if t.result.ok and t.result.train_time_s is not None and math.isfinite(t.result.train_time_s)]
    sign = 1.0 if goal == "maximize" else -1.0
    front = []
    for n, m, s in pts:
        dominated = any(sign * m2 >= sign * m and s2 <= s and (sign * m2 > sign * m or s2 < s)
                        for n2, m2, s2 in pts if n2 != n)
        if not dominated:
            front.append((s, n))
    return [n for _, n in sorted(front)]
