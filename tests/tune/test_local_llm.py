"""Lookup-mode tuning with the real local LLM (SmolLM2-135M on llama-cpp-python, 127.0.0.1) as the
analysis agent, tiny budget. A 135M model reasons poorly: what must hold is the plumbing (TCS prompt,
schema-constrained answer, surrogate ranking or a warned fallback) and the two rules of the loop."""

from __future__ import annotations

import pytest

from metallmix_wandb.llm.client import LLMClient
from metallmix_wandb.tune.records import config_key
from metallmix_wandb.tune.agent import tune_lookup
from tests.support.llm import local_llm  # noqa: F401
from tests.support.tune_lookup import Lookup, synth  # noqa: F401


@pytest.mark.slow
def test_tune_with_the_real_local_model(synth: dict, local_llm) -> None:  # noqa: F811
    table = Lookup(synth["meta"], synth["space"])
    llm = LLMClient(local_llm.base_url, local_llm.alias)
    out = tune_lookup(table, synth["meta"], synth["space"], synth["learner"], synth["base"], budget=3, llm=llm,
                      explanation_max_chars=300, max_repairs=1)
    assert len(out.trials) == 3 and out.stop_reason == "budget"
    keys = [config_key(t.result.config) for t in out.trials]
    assert len(set(keys)) == 3 and all(synth["space"].validate_config(t.result.config).ok for t in out.trials)
    for t in out.trials[1:]:
        if t.proposal.source == "llm":  # the model answered in the space: its candidates were ranked
            assert t.proposal.candidates and t.proposal.tokens["prompt"] > 0 and t.proposal.llm_s > 0
            assert "the surrogate ranked" in t.proposal.reasoning
        else:  # no usable candidate: the surrogate chose, and said why
            assert t.proposal.source == "surrogate" and t.proposal.warnings
