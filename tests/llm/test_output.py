from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metallmix_wandb.llm.output import (
    LLMOutputError,
    ParsedAnswer,
    extract_json,
    format_score_of,
    parse_answer,
    salvage_truncated,
)
from tests.support.llm_data import GOOD, answer, json_values, space

SPACE = space()
OTHER = {**GOOD, "base_model": "mobilenet_v2", "batch_size": 64}


def _valid_everywhere(parsed: ParsedAnswer) -> None:
    for config in parsed.configs:
        result = SPACE.validate_config(config)
        assert result.ok, result.errors
        assert result.config == config


def test_strict_answer() -> None:
    parsed = parse_answer(answer(GOOD, OTHER), SPACE)
    assert parsed.raw_valid_json and parsed.extraction == "strict" and parsed.format_score == 4
    assert parsed.configs == [{**GOOD, "epochs": 1}, {**OTHER, "epochs": 1}]  # constants filled in
    assert parsed.explanation.startswith("ResNet18") and parsed.invalid == [] and parsed.problems() == []


@pytest.mark.parametrize(
    ("text", "how"),
    [
        ("Here is my answer:\n```json\n" + answer() + "\n```\nHope this helps!", "fenced"),
        ("```\n" + answer() + "\n```", "fenced"),
        ("Sure! " + answer() + " Let me know if {you} need more.", "embedded"),
        (answer() + "\n\nThe configuration above is best.", "embedded"),
        ("I use {braces} in prose. " + answer(), "embedded"),
    ],
)
def test_json_dug_out_of_prose_and_fences(text: str, how: str) -> None:
    parsed = parse_answer(text, SPACE)
    assert parsed.extraction == how and not parsed.raw_valid_json
    assert parsed.configs == [{**GOOD, "epochs": 1}] and parsed.format_score == 3


def test_raw_newlines_inside_strings_are_read_but_not_strict() -> None:
    # what SmolLM2 under a llama.cpp grammar actually wrote: a raw line break inside the explanation
    text = answer(GOOD, explanation="line one\nline two").replace("\\n", "\n")
    with pytest.raises(ValueError):
        json.loads(text)
    parsed = parse_answer(text, SPACE)
    assert parsed.extraction == "lenient" and not parsed.raw_valid_json and parsed.format_score == 3
    assert parsed.configs == [{**GOOD, "epochs": 1}] and parsed.explanation == "line one\nline two"
    assert "control characters" in parsed.problems()[0]


def test_reply_cut_in_the_explanation_keeps_the_configs() -> None:
    text = answer(explanation="A long explanation that the token limit cuts off somewhere in the middle")[:-25]
    parsed = parse_answer(text, SPACE)
    assert parsed.extraction == "truncated" and parsed.configs == [{**GOOD, "epochs": 1}]
    assert parsed.explanation.startswith("A long explanation") and parsed.explanation.endswith("...")
    assert parsed.format_score == 2


def test_reply_cut_inside_a_value_never_turns_it_into_another_valid_value() -> None:
    # "partial_100" cut to "partial_10" and 0.0015 cut to 0.00 would both be valid: never accepted
    config = {**GOOD, "fine_tuning": "partial_100"}
    text = json.dumps({"configs": [config], "explanation": "x"})
    cut = text.index("partial_100") + len("partial_10")
    parsed = parse_answer(text[:cut], SPACE)
    assert parsed.configs == [] and parsed.invalid and parsed.extraction == "truncated"
    text = json.dumps({"configs": [{**GOOD, "learning_rate": 0.0015}], "explanation": "x"})
    parsed = parse_answer(text[: text.index("0.0015") + 4], SPACE)
    assert parsed.configs == []
    assert any("missing" in e for e in parsed.problems()) and "cut off" in parsed.problems()[0]


def test_reply_cut_before_any_config_says_so() -> None:
    parsed = parse_answer('Answer: {"configs": [', SPACE)
    assert parsed.configs == [] and parsed.problems()[0].startswith("the reply was cut off")


def test_reply_cut_after_a_whole_config_keeps_it() -> None:
    text = json.dumps({"configs": [GOOD, OTHER], "explanation": "x"})
    parsed = parse_answer(text[: text.index("mobilenet_v2") + 3], SPACE)
    assert parsed.configs == [{**GOOD, "epochs": 1}] and len(parsed.invalid) == 1


def test_values_outside_the_space_are_reported_never_returned() -> None:
    bad = {**GOOD, "base_model": "vgg16", "dropout": 0.9, "learning_rate": "fast"}
    parsed = parse_answer(answer(bad), SPACE)
    assert parsed.configs == [] and not parsed.ok and parsed.format_score == 2
    raw, errors = parsed.invalid[0]
    assert raw == bad and len(errors) == 3
    assert any(p.startswith("configs[1]: base_model") for p in parsed.problems())
    mixed = parse_answer(answer(bad, GOOD), SPACE)
    assert mixed.configs == [{**GOOD, "epochs": 1}] and mixed.format_score == 3


def test_unknown_and_missing_keys_are_invalid() -> None:
    parsed = parse_answer(answer({**GOOD, "momentum": 0.9}, {k: v for k, v in GOOD.items() if k != "dropout"}), SPACE)
    assert parsed.configs == []
    assert [e for _, errs in parsed.invalid for e in errs] == ["momentum: unknown parameter", "dropout: missing"]


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        (GOOD, "a bare configuration"),
        ({"config": GOOD, "explanation": "x"}, '"config" used'),
        ({"configs": GOOD, "explanation": "x"}, '"configs" is an object'),
        ([GOOD], "top level is an array"),
    ],
)
def test_near_miss_shapes_are_read_and_noted(obj: object, problem: str) -> None:
    parsed = parse_answer(json.dumps(obj), SPACE)
    assert parsed.configs == [{**GOOD, "epochs": 1}]
    assert any(problem in p for p in parsed.shape_problems) and parsed.format_score == 3


def test_shapes_with_nothing_usable() -> None:
    parsed = parse_answer('{"configs": "resnet", "explanation": 3, "extra": 1}', SPACE)
    assert parsed.configs == [] and parsed.explanation == "3"
    assert any("not an array" in p for p in parsed.shape_problems)
    assert any("unexpected top-level keys" in p for p in parsed.shape_problems)
    assert parse_answer('{"answer": 42}', SPACE).shape_problems == ['no "configs" key', 'no "explanation"']
    assert parse_answer('{"configs": [], "explanation": ""}', SPACE).configs == []


def test_duplicates_dropped_and_k_capped() -> None:
    parsed = parse_answer(answer(GOOD, dict(GOOD), OTHER), SPACE, max_configs=1)
    assert parsed.configs == [{**GOOD, "epochs": 1}]
    assert any("at most 1" in p for p in parsed.shape_problems)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("I recommend resnet18 with a learning rate of 0.001.", "no JSON object"),
        ('{"configs": [{"base_model": \'resnet18\'}]}', "not valid JSON"),
        ('{"conf', "cut off"),
        (None, "not text"),
        (["x"], "not text"),
    ],
)
def test_clear_errors_when_nothing_can_be_read(text: object, message: str) -> None:
    with pytest.raises(LLMOutputError, match=message):
        parse_answer(text, SPACE)
    assert format_score_of(text, SPACE) == 0


@pytest.mark.parametrize("text", ["{" * 100_000, "[" * 100_000, '{"a":' + "[" * 50_000, "{}" * 50_000,
                                  '{"x":1,' * 20_000, '"' * 100_000])
def test_pathological_text_is_quick_and_clean(text: str) -> None:
    try:
        parsed = parse_answer(text, SPACE)
    except LLMOutputError:
        return
    assert parsed.configs == []


def test_salvage_refuses_complete_or_mismatched_text() -> None:
    assert salvage_truncated('{"a": 1}') is None
    assert salvage_truncated('{"a": [1}') is None
    assert salvage_truncated('{"a": [1, 2') == {"a": [1]}
    assert extract_json('[1, 2]') == ([1, 2], "strict")


# --------------------------------------------------------------------------- property tests

_FRAGMENTS = st.sampled_from([
    "{", "}", "[", "]", '"', ",", ":", "```json\n", "```", "\\", "null", "NaN", "1e999", '"configs"', '"explanation"',
    '"base_model"', '"resnet18"', '"partial_10"', "0.001", "32", json.dumps(GOOD), answer(), answer(OTHER)[:40],
])


def _cut_answers() -> st.SearchStrategy[str]:
    full = st.sampled_from([answer(GOOD, OTHER), answer({**GOOD, "fine_tuning": "partial_100"}), answer(GOOD)])
    return st.builds(lambda t, i, tail: t[: i % (len(t) + 1)] + tail, full, st.integers(0, 400), st.text(max_size=20))


def _mutated_answers() -> st.SearchStrategy[str]:
    value = st.one_of(st.sampled_from(["resnet18", "vgg", "partial_10", "", None, True]), st.integers(-10, 200),
                      st.floats(allow_nan=True, allow_infinity=True), st.lists(st.integers(), max_size=2))
    config = st.dictionaries(st.sampled_from([*GOOD, "momentum", "epochs"]), value, max_size=9)
    mutated = st.builds(lambda base, over: {**base, **over}, st.just(GOOD), config)
    return st.builds(lambda cs, e: json.dumps({"configs": cs, "explanation": e}, allow_nan=True),
                     st.lists(st.one_of(config, mutated), max_size=4), st.text(max_size=30))


ANY_REPLY = st.one_of(
    st.text(), st.lists(_FRAGMENTS, max_size=30).map("".join), _cut_answers(), json_values(), _mutated_answers(),
    st.builds(lambda a, b, c: a + b + c, st.text(max_size=30), _mutated_answers(), st.text(max_size=30)),
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_REPLY, st.one_of(st.none(), st.integers(1, 3)))
def test_any_text_gives_only_valid_configs_or_llm_output_error(text: str, k: int | None) -> None:
    try:
        parsed = parse_answer(text, SPACE, max_configs=k)
    except LLMOutputError as e:
        assert str(e)
        assert format_score_of(text, SPACE) == 0
        return
    _valid_everywhere(parsed)
    assert 0 <= parsed.format_score <= 4
    assert k is None or len(parsed.configs) <= k
    assert parsed.ok == bool(parsed.configs)
    if parsed.format_score == 4:
        assert parsed.raw_valid_json and not parsed.invalid and not parsed.shape_problems


# --------------------------------------------------------------------------- decoys before the answer

DECOY = json.dumps({"configs": [{**GOOD, "base_model": "mobilenet_v2"}], "explanation": "a first draft"})


@pytest.mark.parametrize(("text", "how"), [
    (f"First I tried {DECOY}, but on reflection:\n{answer(OTHER)}", "embedded"),
    (f"<think>Maybe {DECOY}? No, batch 64 is better.</think>\n{answer(OTHER)}", "embedded"),
    (f"<think>draft:\n```json\n{DECOY}\n```\n</think>\n```json\n{answer(OTHER)}\n```", "fenced"),
    (f"A draft:\n```json\n{DECOY}\n```\nThe final answer:\n```json\n{answer(OTHER)}\n```", "fenced"),
    (f"Draft in a fence:\n```json\n{DECOY}\n```\nFinal: {answer(OTHER)}", "embedded"),
    (f"Okay, the template opened the block. {DECOY} is wrong.</think>{answer(OTHER)}", "embedded"),
    (f'The format is {{"configs": [...]}}. {answer(OTHER)} Note: {{"lr": "a note"}}', "embedded"),
])
def test_the_last_complete_answer_is_parsed_not_a_decoy_before_it(text: str, how: str) -> None:
    parsed = parse_answer(text, SPACE)
    assert parsed.configs == [{**OTHER, "epochs": 1}] and parsed.extraction == how


def test_thinking_is_never_the_answer() -> None:
    with pytest.raises(LLMOutputError, match="no JSON object"):
        parse_answer(f"<think>{DECOY}</think>I could not decide.", SPACE)
    with pytest.raises(LLMOutputError, match="no JSON object"):
        parse_answer(f"<think>It could be {DECOY} but the reply was cut o", SPACE)  # cut off while thinking


def test_a_cut_off_answer_after_a_complete_decoy_is_salvaged() -> None:
    cut = answer(OTHER, GOOD)[: len(answer(OTHER)) - 20]
    parsed = parse_answer(f"Draft: {DECOY}\nFinal: {cut}", SPACE)
    assert parsed.extraction == "truncated" and parsed.configs == [{**OTHER, "epochs": 1}]


def test_a_reply_that_is_whole_json_keeps_think_tags_in_its_strings() -> None:
    text = answer(GOOD, explanation="I wrote <think>x</think> on purpose.")
    parsed = parse_answer(text, SPACE)
    assert parsed.extraction == "strict" and "<think>x</think>" in parsed.explanation
