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
    """What tune promises whatever a weak model answers: every trial distinct and in the space; each
    agent trial is the surrogate's best of the LLM's new candidates (its time and tokens recorded, its
    explanation within the cap) or, when none is usable, the surrogate's own pick with the LLM's failure
    named; never a silent fallback."""
    table = Lookup(synth["meta"], synth["space"])
    llm = LLMClient(local_llm.base_url, local_llm.alias)
    out = tune_lookup(table, synth["meta"], synth["space"], synth["learner"], synth["base"], budget=3, llm=llm,
                      explanation_max_chars=300, max_repairs=1)
    assert len(out.trials) == 3 and out.stop_reason == "budget"
    keys = [config_key(t.result.config) for t in out.trials]
    assert len(set(keys)) == 3 and all(synth["space"].validate_config(t.result.config).ok for t in out.trials)
    assert out.trials[0].proposal.source.startswith("recommend:")
    for t in out.trials[1:]:
        p = t.proposal
        assert p.predicted is not None and p.config == t.result.config
        if p.source == "llm":  # the model answered in the space: the surrogate ranked its new candidates
            assert p.candidates and p.tokens["prompt"] > 0 and p.tokens["completion"] > 0 and p.llm_s > 0
            assert p.predicted.score == max(c.score for c in p.candidates)  # objective accuracy: utility = score
            assert config_key(p.config) in {config_key(c.config) for c in p.candidates}
            explanation, _, note = p.reasoning.partition("\n\n[")
            assert len(explanation) <= 300 and "the surrogate ranked" in note
        else:  # no usable candidate: the surrogate chose, and the warning says what the LLM did wrong
            assert p.source == "surrogate" and not p.candidates
            assert any(w.startswith(("LLM gave no valid config", "every LLM candidate")) for w in p.warnings), p.warnings
