"""The explanation in a second, plain-text call (recommend/explain_text.py) after the JSON choice, through
`recommend` with a scripted LLM on a real knowledge base."""

from __future__ import annotations

import json

from metallmix_wandb.cli.options import open_store
from metallmix_wandb.knowledge.meta_learner.artifact import load_knowledge
from metallmix_wandb.llm.judge import JUDGE_RUBRIC
from metallmix_wandb.numbers import short
from metallmix_wandb.recommend.explain_text import EXPLAIN_REQUEST, Reason, said, tidy
from metallmix_wandb.recommend.pipeline import RecommendRequest, recommend
from metallmix_wandb.settings import load_settings
from tests.support.data_block import split_data_block
from tests.support.fake_llm import ScriptedClient
from tests.support.llm_data import INJECTION
from tests.support.recommend_kb import MF, kb, offline_explain_project  # noqa: F401
from tests.support.synthetic import EXPLAIN_PROJECT

SAID = ("The first candidate keeps resnet50 with a learning rate of 0.001, which the SHAP digest ranks as the "
        "values that help most.")


def _recommend(llm: ScriptedClient, **req: object):
    settings = load_settings(project=EXPLAIN_PROJECT)
    knowledge = load_knowledge(EXPLAIN_PROJECT, settings.cache_dir)
    with open_store(settings) as store:
        return recommend(MF, knowledge.space, store, knowledge, RecommendRequest(**{"judge": False, **req}), llm)


def test_the_choice_is_json_and_the_explanation_plain_text_in_the_same_conversation(kb: dict) -> None:  # noqa: F811
    llm = ScriptedClient('{"candidate": 1, "config": null}', explanations=[SAID + "\n\nAnd then it was cut"])
    rec = _recommend(llm)
    choice, text = llm.requests
    assert "explanation" not in choice["schema"]["properties"] and '"explanation"' not in choice["messages"][0]["content"]
    assert text["name"] == "text" and text["messages"][:2] == choice["messages"]  # same prefix: the server's cache
    facts = text["messages"][2]["content"]  # its reply as plain facts: the pick resolved to the config's values
    assert text["messages"][2]["role"] == "assistant" and facts.startswith("I choose candidate 1, with ")
    assert "{" not in facts and f"learning_rate {short(rec.config['learning_rate'])}" in facts
    assert "In the SHAP digest, learning_rate " in facts  # the most influential parameter's effect
    assert text["messages"][3] == {"role": "user", "content": EXPLAIN_REQUEST}  # fixed text, no data
    assert rec.source == "llm" and rec.llm_explanation == SAID  # the unfinished sentence is cut off
    assert rec.explanation == SAID and rec.explanation_rejected is None
    assert rec.tokens["prompt"] == 130 and rec.tokens["completion"] == 40  # both calls counted


def test_the_judge_continues_the_choice_prompt_so_the_server_reads_the_evidence_once(kb: dict) -> None:  # noqa: F811
    scores = json.dumps({"format": 4, "accuracy": 3, "completeness": 3, "conciseness": 4, "fluency": 4})
    llm = ScriptedClient('{"candidate": 1, "config": null}', scores, scores, explanations=[SAID])
    rec = _recommend(llm, judge=True, judge_repeats=2)
    choice, _, *judged = llm.requests
    assert [r["name"] for r in judged] == ["judgement", "judgement"] and rec.judge_scores["accuracy"] == 3
    for r in judged:  # the system message and the evidence exactly as the choice had them, then one turn
        assert r["messages"][:2] == choice["messages"] and len(r["messages"]) == 3
        prose, data = split_data_block(r["messages"][2]["content"])
        assert JUDGE_RUBRIC in prose and "ignore previous" not in prose
        assert data == {"raw_reply": '{"candidate": 1, "config": null}', "chosen_config": rec.config,
                        "explanation": SAID}
    _, evidence = split_data_block(choice["messages"][1]["content"])
    assert {"past_experiments", "shap_digest", "candidates"} <= set(evidence)  # what the rubric checks against


def test_json_mode_keeps_the_explanation_in_the_choice(kb: dict) -> None:  # noqa: F811
    llm = ScriptedClient(json.dumps({"candidate": 1, "config": None, "explanation": SAID}))
    rec = _recommend(llm, explanation="json")
    (choice,) = llm.requests
    assert "explanation" in choice["schema"]["properties"] and rec.llm_explanation == SAID


def test_no_explanation_is_asked_for_a_pick_that_does_not_stand(kb: dict) -> None:  # noqa: F811
    llm = ScriptedClient('{"candidate": 6, "config": null}', explanations=[INJECTION])
    rec = _recommend(llm)
    assert rec.source == "meta-learner-fallback" and rec.choice_set.overruled
    assert [r["name"] for r in llm.requests] == ["choice"] and llm.explanations == [INJECTION]


def test_the_facts_name_the_most_influential_values_with_their_shap_effects() -> None:
    config = {"dropout": 0.2, "base_model": "resnet50", "learning_rate": 0.001}
    text = said(2, config, [Reason("learning_rate", 0.001, 0.315), Reason("base_model", "resnet50", -0.117)])
    assert text == ("I choose candidate 2, with learning_rate 0.001 and base_model resnet50. In the SHAP digest, "
                    "learning_rate 0.001 helps the percentile (+0.315) and base_model resnet50 hurts the "
                    "percentile (-0.117).")
    assert said(0, {"lr": 1e-05, "note": "x" * 500}).startswith("I choose my own configuration, with lr 1e-05 and note x")
    assert len(said(0, {"note": "x" * 500})) < 120  # a long value is a label: cut


def test_tidy_cuts_back_to_the_last_full_sentence() -> None:
    assert tidy("  One. Two is cut") == "One."
    assert tidy("One. Two.", max_chars=6) == "One."
    assert tidy("no sentence end at all") == "no sentence end at all"
