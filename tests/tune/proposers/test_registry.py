"""The registry of ways to choose tune's next trial: every name builds a Proposer from a context,
lazily (importing the registry loads no numpy), and an unknown name says which ones exist."""

from __future__ import annotations

import subprocess
import sys

import pytest

from metallmix_wandb.tune.objective import TimePolicy
from metallmix_wandb.tune.proposers import PROPOSERS, ProposerContext, make_proposer, proposer_factory
from metallmix_wandb.tune.surrogate import Surrogate
from tests.support.tune_lookup import synth  # noqa: F401


def test_importing_the_registry_stays_light() -> None:
    code = ("import sys, metallmix_wandb.tune.proposers as p; "
            "print(sorted(m for m in ('numpy', 'xgboost', 'openai') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_registered_name_resolves() -> None:
    for name in PROPOSERS:
        assert callable(proposer_factory(name))
    with pytest.raises(ValueError, match="unknown proposer 'bogus'.*meta-learner-topn"):
        proposer_factory("bogus")


def test_every_registered_proposer_proposes_a_valid_first_choice(synth: dict) -> None:  # noqa: F811
    surrogate = Surrogate(synth["learner"], synth["base"], "test/acc", space=synth["space"])
    context = ProposerContext(learner=synth["learner"], meta=synth["meta"], space=synth["space"],
                              policy=TimePolicy(), surrogate=surrogate)
    for name in PROPOSERS:
        proposal = make_proposer(name, context)([])
        assert proposal is not None and synth["space"].validate_config(proposal.config).ok, name


def test_the_refitting_proposers_need_a_surrogate(synth: dict) -> None:  # noqa: F811
    context = ProposerContext(learner=synth["learner"], meta=synth["meta"], space=synth["space"], policy=TimePolicy())
    for name in ("surrogate", "llm"):
        with pytest.raises(ValueError, match="needs a surrogate"):
            make_proposer(name, context)
