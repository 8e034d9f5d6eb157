"""The LLM judge: its prompt and schema, reading its scores, and the repeated call."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metallmix_wandb.llm.judge import (
    CRITERIA,
    JUDGE_RUBRIC,
    JudgeScores,
    average_judge_scores,
    judge,
    judge_instruction_text,
    judge_messages,
    judge_schema,
    parse_judge_scores,
)
from metallmix_wandb.llm.output import LLMOutputError
from metallmix_wandb.llm.messages import table
from tests.support.data_block import split_data_block, table_rows
from tests.support.fake_llm import ScriptedClient
from tests.support.llm_data import GOOD, INJECTION, META, json_values, neighbour, space


def test_judge_prompt_has_the_rubric_and_quotes_the_reply_as_data() -> None:
    system = judge_instruction_text()
    for c in CRITERIA:
        assert f"- {c}:" in system
    messages = judge_messages(space(), META, [GOOD], "because", INJECTION, [neighbour()], "digest")
    assert messages[0]["content"] == system
    prose, data = split_data_block(messages[1]["content"])
    assert "ignore previous" not in prose
    assert data["raw_reply"] == INJECTION
    assert data["chosen_config"] == GOOD and data["explanation"] == "because"
    assert table_rows(data["past_experiments"])[0]["test/acc"] == 0.81


def _rubric_line(criterion: str) -> str:
    return next(line for line in JUDGE_RUBRIC.splitlines() if line.startswith(f"- {criterion}:"))


def test_the_judge_checks_accuracy_against_the_evidence_it_is_shown_and_completeness_against_the_config() -> None:
    """Issue 13 item 5: the rubric names the fields it checks against, and those fields hold what the
    assistant was shown (the same tables, the digest, the offered candidates) and the chosen config."""
    offered = table(["id", "base_model", "percentile"], [[1, "resnet18", 0.95], [2, "mobilenet_v2", 0.9]])
    messages = judge_messages(space(), META, [GOOD], "resnet18 at 0.001 is best", "{}", [neighbour(), neighbour(
        "run b", "chest", acc=0.5)], "learning_rate: best 0.001 (+0.309)", metric="test/acc", candidates=offered,
        task="Tabular churn prediction.")
    _, data = split_data_block(messages[1]["content"])
    for field in ("past_experiments", "shap_digest", "candidates"):
        assert f'"{field}"' in _rubric_line("accuracy") and data[field]
    assert '"chosen_config"' in _rubric_line("completeness") and data["chosen_config"] == GOOD
    assert [r["test/acc"] for r in table_rows(data["past_experiments"])] == [0.81, 0.5]
    assert data["shap_digest"] == "learning_rate: best 0.001 (+0.309)" and data["candidates"] == offered
    assert data["explanation"] == "resnet18 at 0.001 is best" and data["task"] == "Tabular churn prediction."
    system = messages[0]["content"].lower()
    assert "image" not in system and "transfer learning" not in system  # the task is the project's, as data
    # repeats send the same messages: a server's prompt cache reads the evidence once
    client = ScriptedClient(*['{"format": 4, "accuracy": 2, "completeness": 3, "conciseness": 4, "fluency": 4}'] * 3)
    judge(client, messages, repeats=3)
    assert all(r["messages"] == messages for r in client.requests)


def test_judge_schema_scores_are_integers_0_to_4() -> None:
    schema = judge_schema()
    assert schema["required"] == [*CRITERIA, "rationale"]
    assert all(schema["properties"][c]["enum"] == [0, 1, 2, 3, 4] for c in CRITERIA)


def test_judge_scores_parsed_and_clipped() -> None:
    s = parse_judge_scores('Scores: {"Format": 4, "accuracy": "3/4", "completeness": 7, "conciseness": -2, '
                           '"fluency": {"score": 2.5}, "rationale": "fine"}')
    assert (s.format, s.accuracy, s.completeness, s.conciseness, s.fluency) == (4, 3, 4, 0, 2.5)
    assert s.rationale == "fine" and s.mean == pytest.approx(2.7)
    partial = parse_judge_scores('{"format": true, "accuracy": "good", "fluency": 3}')
    assert partial.format is None and partial.accuracy is None and partial.fluency == 3


@pytest.mark.parametrize("text", ['{"rationale": "no numbers"}', "[1, 2]", "four out of four"])
def test_judge_reply_without_scores_is_an_error(text: str) -> None:
    with pytest.raises(LLMOutputError):
        parse_judge_scores(text)


def test_repeated_judgements_are_averaged_per_criterion() -> None:
    a = JudgeScores(format=4, accuracy=2, completeness=None, conciseness=3, fluency=4, rationale="a")
    b = JudgeScores(format=2, accuracy=3, completeness=1, conciseness=3, fluency=None, rationale="b")
    avg = average_judge_scores([a, b])
    assert (avg.format, avg.accuracy, avg.completeness, avg.conciseness, avg.fluency) == (3, 2.5, 1, 3, 4)
    assert avg.repeats == 2 and avg.rationale == "a"
    assert average_judge_scores([]).repeats == 0 and average_judge_scores([]).mean is None


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), json_values()))
def test_judge_parser_never_raises_anything_else(text: str) -> None:
    try:
        s = parse_judge_scores(text)
    except LLMOutputError:
        return
    for v in (s.format, s.accuracy, s.completeness, s.conciseness, s.fluency):
        assert v is None or 0 <= v <= 4


def test_judge_repeats_and_averages_with_seeds() -> None:
    replies = ['{"format": 4, "accuracy": 2, "completeness": 3, "conciseness": 4, "fluency": 4, "rationale": "ok"}',
               '{"format": 2, "accuracy": 4, "completeness": 3, "conciseness": 4, "fluency": 2, "rationale": "hm"}',
               "no scores at all"]
    client = ScriptedClient(*replies)
    out = judge(client, [{"role": "user", "content": "judge"}], repeats=3, format_score_code=4)
    assert out.scores.format == 3 and out.scores.accuracy == 3 and out.scores.repeats == 2
    assert len(out.calls) == 3 and len(out.errors) == 1 and out.format_score_code == 4
    assert [r["seed"] for r in client.requests] == [0, 1, 2]
    assert {r["temperature"] for r in client.requests} == {0.7} and client.requests[0]["name"] == "judgement"
    one = ScriptedClient(replies[0])
    judge(one, [{"role": "user", "content": "judge"}], repeats=1)
    assert one.requests[0]["temperature"] == 0.0


def test_the_scores_are_the_answer_not_a_draft_or_an_object_after_them() -> None:
    text = ('<think>{"format": 0, "accuracy": 0}</think> The candidate {"learning_rate": 0.001} looks fine.\n'
            '{"format": 4, "accuracy": 3, "completeness": 2, "conciseness": 1, "fluency": 4}\n'
            'Context: {"note": "graded on the evidence"}')
    s = parse_judge_scores(text)
    assert (s.format, s.accuracy, s.completeness, s.conciseness, s.fluency) == (4, 3, 2, 1, 4)
