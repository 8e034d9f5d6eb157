"""The few-trial loop itself, independent of how a config is evaluated or proposed.

`run_tune_loop` asks a proposer for the next config, hands it to `evaluate_config(config) ->
TrialResult` (a training run through the Launch contract in `tune`; a lookup in a table of
results in issue 6's evaluation), summarises the trial with the Trajectory Context Summarizer and
stops at the budget, at the target, when the space is exhausted, or on Ctrl-C (KeyboardInterrupt:
the finished trials are returned, the one in flight is dropped). It enforces the two rules itself,
whatever the proposer does: no config is tried twice, and none leaves the space.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from metallmix_wandb.knowledge.trajectory import summarise_curve
from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.tune.digest import best_so_far
from metallmix_wandb.tune.proposers.base import Proposer
from metallmix_wandb.tune.records import (
    Proposal,
    StopReason,
    TrialResult,
    TuneOutcome,
    TuneTrial,
    best_trial,
    config_key,
    pareto_front,
    reached,
)

EvaluateConfig = Callable[[dict], TrialResult]


class TuneLoopError(RuntimeError):
    """A proposer broke a rule of the loop (a repeat, or a config outside the space)."""


def make_trial(number: int, proposal: Proposal, result: TrialResult, previous: Sequence[TuneTrial],
               curve_metric: str = "val/acc", goal: str = "maximize") -> TuneTrial:
    """One evaluated trial with its TCS curve summary and the best-so-far after it."""
    curve = summarise_curve(result.history, curve_metric, train_time_s=result.train_time_s,
                            crashed=not result.ok)
    trial = TuneTrial(number=number, proposal=proposal, result=result, curve=curve)
    trial.best_so_far = best_so_far([*previous, trial], goal)[-1]
    return trial


def _checked(proposal: Proposal, space: SearchSpace, tried: set[str]) -> Proposal:
    check = space.validate_config(proposal.config)
    if not check.ok or check.config is None:
        raise TuneLoopError("the proposer gave a config outside the space: " + "; ".join(check.errors))
    if config_key(check.config) in tried:
        raise TuneLoopError(f"the proposer repeated a config already tried: {check.config}")
    return proposal.model_copy(update={"config": check.config})


def run_tune_loop(
    evaluate_config: EvaluateConfig,
    propose: Proposer,
    space: SearchSpace,
    *,
    budget: int,
    first: Proposal | None = None,
    previous: Sequence[TuneTrial] = (),
    target: float | None = None,
    goal: str = "maximize",
    curve_metric: str = "val/acc",
    on_proposal: Callable[[int, Proposal], None] = lambda n, p: None,
    on_trial: Callable[[TuneTrial], None] = lambda t: None,
) -> TuneOutcome:
    """Run trials until `budget` trials exist (counting `previous`, from a resumed tune).

    `first` is trial 1 (recommend's answer) unless `previous` already holds trials; every later
    proposal comes from the proposer (tune/proposers/), `propose(trials so far)`, which returns None
    when nothing is left to try.
    Any exception other than KeyboardInterrupt propagates (with the trials so far lost to the caller
    unless it records them through `on_trial`)."""
    trials = list(previous)
    tried = {config_key(t.result.config) for t in trials}
    warnings: list[str] = []
    stop: StopReason = "budget"
    try:
        while len(trials) < budget:
            best = best_trial(trials, goal)
            if reached(target, best.result.metric if best else None, goal):
                stop = "target"
                break
            number = len(trials) + 1
            proposal = first if (first is not None and not trials) else propose(trials)
            if proposal is None:
                stop = "exhausted"
                break
            proposal = _checked(proposal, space, tried)
            warnings.extend(f"trial {number}: {w}" for w in proposal.warnings)
            on_proposal(number, proposal)
            start = time.perf_counter()
            result = evaluate_config(dict(proposal.config))
            if result.seconds is None:
                result.seconds = time.perf_counter() - start
            trial = make_trial(number, proposal, result, trials, curve_metric, goal)
            trials.append(trial)
            tried.add(config_key(proposal.config))
            on_trial(trial)
        else:
            best = best_trial(trials, goal)
            if reached(target, best.result.metric if best else None, goal):
                stop = "target"
    except KeyboardInterrupt:
        stop = "interrupted"
    return outcome_of(trials, stop, goal, warnings)


def outcome_of(trials: Sequence[TuneTrial], stop: StopReason, goal: str = "maximize",
               warnings: Sequence[str] = ()) -> TuneOutcome:
    """The outcome of these trials: the best, the Pareto front."""
    best = best_trial(trials, goal)
    return TuneOutcome(trials=list(trials), best=best.number if best else None, stop_reason=stop,
                       pareto=pareto_front(trials, goal), warnings=list(warnings), goal=goal)
