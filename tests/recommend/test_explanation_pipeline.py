"""Through `recommend` with a scripted LLM on a real knowledge base: a junk explanation never reaches
the user (the digest's replaces it, marked with the reason) and the record keeps both; the prompt
names the project's task."""

from __future__ import annotations

import json

from metallmix_wandb.cli.options import open_store
from metallmix_wandb.knowledge.meta_learner.artifact import load_knowledge
from metallmix_wandb.recommend.pipeline import RecommendRequest, recommend
from metallmix_wandb.settings import load_settings
from tests.support.data_block import split_data_block
from tests.support.fake_llm import ScriptedClient
from tests.support.recommend_kb import MF, kb, offline_explain_project  # noqa: F401
from tests.support.synthetic import EXPLAIN_PROJECT

CONFIG = {"base_model": "resnet50", "fine_tuning": "full", "learning_rate": 0.001, "batch_size": 16,
          "dropout": 0.4}


def _recommend(explanation: str, **req: object):
    """Propose mode (`candidates=1`): the LLM's own config and explanation reach the check as written."""
    settings = load_settings(project=EXPLAIN_PROJECT)
    knowledge = load_knowledge(EXPLAIN_PROJECT, settings.cache_dir)
    llm = ScriptedClient(json.dumps({"configs": [CONFIG], "explanation": explanation}))
    with open_store(settings) as store:
        rec = recommend(MF, knowledge.space, store, knowledge, RecommendRequest(judge=False, candidates=1, **req), llm)
    return rec, llm


def test_a_junk_explanation_is_replaced_by_the_digests_and_both_are_kept(kb: dict) -> None:  # noqa: F811
    rec, llm = _recommend("} {", task="Tabular churn prediction.")
    assert rec.source == "llm" and rec.config["base_model"] == "resnet50"
    assert rec.llm_explanation == "} {" and rec.explanation_rejected.startswith("too short")
    assert rec.explanation.startswith("LLM explanation rejected: too short")
    assert "The meta-learner's best configuration" in rec.explanation and "resnet50" in rec.explanation
    assert any(w.startswith("LLM explanation rejected") for w in rec.warnings)
    _, data = split_data_block(llm.requests[0]["messages"][1]["content"])
    assert data["task"] == "Tabular churn prediction."


def test_a_faithful_explanation_is_shown_as_written(kb: dict) -> None:  # noqa: F811
    said = ("resnet50 with full fine-tuning and a learning rate of 0.001 suits this dataset: the SHAP digest "
            "ranks the learning rate and the backbone as the parameters that matter most.")
    rec, _ = _recommend(said)
    assert rec.explanation == said == rec.llm_explanation and rec.explanation_rejected is None
    assert not any("rejected" in w for w in rec.warnings)
