"""What `recommend` sends the embedded SmolLM2 demo model (issue 13 item 4: seconds, not minutes): fewer
candidates and experiments in its prompt, one judge call, a capped explanation; the user's own numbers
win; a model the user brings (--base-url) keeps the defaults (tests/cli/test_recommend_cli.py)."""

from __future__ import annotations

from metallmix_wandb.recommend.pipeline import (
    EMBEDDED_EXPLANATION_CHARS, EMBEDDED_OFFER, EMBEDDED_TOP_K, RecommendRequest, for_embedded_model,
)


def test_the_embedded_model_reads_a_shorter_prompt_and_is_judged_once() -> None:
    default = RecommendRequest()
    req = for_embedded_model(default)
    assert (default.offer, default.top_k, default.judge_repeats) == (6, 8, 3)
    assert (req.offer, req.top_k, req.judge_repeats) == (EMBEDDED_OFFER, EMBEDDED_TOP_K, 1) == (4, 5, 1)
    assert req.explanation_max_chars == EMBEDDED_EXPLANATION_CHARS
    assert req.chooses and req.tie == default.tie  # the same confidence-set guard, fewer rows to read


def test_the_users_own_numbers_win() -> None:
    req = for_embedded_model(RecommendRequest(top_k=8), 3, offer=6, top_k=8)
    assert (req.offer, req.top_k, req.judge_repeats) == (6, 8, 3)
    assert for_embedded_model(RecommendRequest(top_k=3)).top_k == 3  # a smaller setting (METALLMIX_TOP_K) stays


def test_the_embedded_models_judge_reads_the_short_rubric_after_the_same_prompt() -> None:
    from metallmix_wandb.llm.judge import CRITERIA, JUDGE_RUBRIC, JUDGE_RUBRIC_SHORT, judge_followup

    assert for_embedded_model(RecommendRequest()).judge_rubric == "short"
    assert RecommendRequest().judge_rubric == "full"
    prompt = [{"role": "system", "content": "S"}, {"role": "user", "content": "evidence"}]
    short = judge_followup(prompt, [{"lr": 0.001}], "It helps.", '{"candidate": 1}', rubric="short")
    full = judge_followup(prompt, [{"lr": 0.001}], "It helps.", '{"candidate": 1}')
    assert short[:2] == full[:2] == prompt  # the cached prefix is the recommender's prompt either way
    assert JUDGE_RUBRIC_SHORT in short[-1]["content"] and JUDGE_RUBRIC not in short[-1]["content"]
    assert JUDGE_RUBRIC in full[-1]["content"]
    assert all(f"- {c}:" in JUDGE_RUBRIC_SHORT for c in CRITERIA)  # every criterion is still scored
    assert len(JUDGE_RUBRIC_SHORT) < len(JUDGE_RUBRIC) / 2


def test_the_exclusive_pick_schema_has_no_room_for_a_config_after_an_offered_id() -> None:
    """SmolLM2 wrote a whole config after "candidate": 1 (ignored, then re-read by the judge); the embedded
    model's schema allows a config only with "candidate": 0, and llama.cpp's grammar converter takes it."""
    from metallmix_wandb.recommend.candidates import pick_schema
    from tests.support.llm_data import GOOD, space
    from tests.support.require import require_module

    jsonschema = require_module("jsonschema")
    llama_grammar = require_module("llama_cpp.llama_grammar", "llama-cpp-python")
    assert for_embedded_model(RecommendRequest()).exclusive_pick and not RecommendRequest().exclusive_pick
    schema = pick_schema(space(), 4, explanation=False, exclusive=True)
    jsonschema.validate({"candidate": 2, "config": None}, schema)
    jsonschema.validate({"candidate": 0, "config": GOOD}, schema)
    for bad in ({"candidate": 2, "config": GOOD}, {"candidate": 0, "config": None}, {"candidate": 5, "config": None}):
        try:
            jsonschema.validate(bad, schema)
        except jsonschema.ValidationError:
            continue
        raise AssertionError(f"accepted {bad}")
    loose = pick_schema(space(), 4, explanation=False)
    jsonschema.validate({"candidate": 2, "config": GOOD}, loose)  # what every other endpoint still gets
    import json

    grammar = llama_grammar.json_schema_to_gbnf(json.dumps(schema))
    assert grammar.count('"null"') == 1 and "root ::= alternative-0 | alternative-1" in grammar
