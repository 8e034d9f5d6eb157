"""Ways to choose tune's next trial: the extension point of `tune`.

A proposer (`base.Proposer`) is given the trials so far and returns the next Proposal, or None when
nothing is left to try; it is built from a `ProposerContext` (the meta-learner, the surrogate, the
space, the objective, the LLM...). Each way is one module of this package and one line of PROPOSERS
(name -> "module:attr", imported only when built, so this registry stays light); `make_proposer`
builds one by name. `TuneAgent` uses "llm" when it has an LLM, else "surrogate".
"""

from __future__ import annotations

import importlib

from metallmix_wandb.tune.proposers.base import Proposer, ProposerContext, ProposerFactory

PROPOSERS: dict[str, str] = {
    "surrogate": "metallmix_wandb.tune.proposers.surrogate:SurrogateProposer",
    "llm": "metallmix_wandb.tune.proposers.llm:LLMProposer",
    "meta-learner-topn": "metallmix_wandb.tune.proposers.topn:MetaLearnerTopN",
}

__all__ = ["PROPOSERS", "Proposer", "ProposerContext", "ProposerFactory", "make_proposer", "proposer_factory"]


def proposer_factory(name: str) -> ProposerFactory:
    """The registered way called `name` (ValueError naming the known ones otherwise)."""
    if name not in PROPOSERS:
        raise ValueError(f"unknown proposer {name!r} (expected one of {sorted(PROPOSERS)})")
    module, attr = PROPOSERS[name].split(":")
    factory: ProposerFactory = getattr(importlib.import_module(module), attr)
    return factory


def make_proposer(name: str, context: ProposerContext) -> Proposer:
    """The proposer called `name`, built from `context`."""
    return proposer_factory(name)(context)
