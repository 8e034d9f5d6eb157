"""What a way to choose tune's next trial is (`Proposer`) and what it is built from (`ProposerContext`).

A proposer is given the trials so far and returns the next Proposal, or None when it has nothing left
to try; `run_tune_loop` enforces the loop's rules (no repeats, nothing outside the space) whatever it
returns. Kept light (no numpy): the registry in `tune/proposers/__init__.py` imports it. Tested through
tests/tune/proposers/test_registry.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from metallmix_wandb.tune.records import Proposal, TuneTrial, config_key

if TYPE_CHECKING:
    from metallmix_wandb.knowledge.meta_learner.model import MetaLearner
    from metallmix_wandb.knowledge.records import MetaValue
    from metallmix_wandb.llm.chat import ChatJSON
    from metallmix_wandb.recommend.record import Evidence
    from metallmix_wandb.space.search_space import SearchSpace
    from metallmix_wandb.tune.objective import TimePolicy
    from metallmix_wandb.tune.surrogate import Surrogate


class Proposer(Protocol):
    """A way to choose tune's next trial."""

    def __call__(self, trials: Sequence[TuneTrial]) -> Proposal | None: ...


@dataclass
class ProposerContext:
    """Everything a proposer may use, fixed for one tune; each proposer takes what it needs."""

    learner: MetaLearner
    """The stored meta-learner (never refitted)."""
    meta: Mapping[str, MetaValue]
    space: SearchSpace
    policy: TimePolicy
    surrogate: Surrogate | None = None
    """The meta-learner plus the knowledge-base runs to refit it with the trials (the refitting proposers)."""
    llm: ChatJSON | None = None
    evidence: Sequence[Evidence] = ()
    shap_digest: str = ""
    metric: str = "test/acc"
    k: int = 3
    max_repairs: int = 1
    explanation_max_chars: int | None = None
    budget: int | None = None
    portfolio: int = 1
    """Trials drawn from the meta-learner's portfolio of this many configs (`MetaLearner.recommend_n`)
    before the proposer takes over; trial 1 (recommend's answer) is its first (proposers/portfolio.py)."""
    seed: int = 0
    task: str | None = None
    """The project's task for the prompts (`--task` / METALLMIX_TASK; else the space's description)."""
    configs: Sequence[Mapping[str, Any]] | None = None
    """A fixed pool (e.g. the configs a lookup table holds, as the space validates them): the only
    configs proposed."""
    allowed: set[str] | None = field(init=False, default=None)
    """The keys of `configs` (None: every config of the space is allowed)."""

    def __post_init__(self) -> None:
        self.allowed = None if self.configs is None else {config_key(c) for c in self.configs}

    @property
    def goal(self) -> str:
        return self.policy.goal


class ProposerFactory(Protocol):
    """What a registry entry names: a proposer built from the context (a class, usually)."""

    def __call__(self, context: ProposerContext) -> Proposer: ...
