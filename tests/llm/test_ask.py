from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from metallmix_wandb.llm.ask import ChatResult, NoValidConfigError, ask_for_configs, judge
from metallmix_wandb.recommend.prompts import recommendation_messages, split_data_block
from tests.support.llm_data import GOOD, META, answer, space

SPACE = space()
BAD = {**GOOD, "base_model": "vgg16"}


class ScriptedClient:
    """Answers with the given texts in turn and records every request."""

    def __init__(self, *texts: str) -> None:
        self.texts = list(texts)
        self.requests: list[dict[str, Any]] = []

    def chat_json(self, messages: Sequence[dict[str, str]], schema: dict[str, Any], *, name: str = "answer",
                  max_tokens: int | None = None, temperature: float | None = None,
                  seed: int | None = None) -> ChatResult:
        self.requests.append({"messages": list(messages), "schema": schema, "name": name, "temperature": temperature,
                              "seed": seed})
        return ChatResult(text=self.texts.pop(0), mode="json_schema", prompt_tokens=100, completion_tokens=20,
                          latency_s=0.5)


def _messages() -> list[dict[str, str]]:
    return recommendation_messages(SPACE, META, k=2)


def test_a_valid_first_answer_needs_no_repair() -> None:
    client = ScriptedClient(answer(GOOD))
    out = ask_for_configs(client, _messages(), SPACE, k=2)
    assert out.ok and out.first_valid and out.first_raw_valid_json and out.repairs == 0
    assert out.answer is not None and out.answer.configs == [{**GOOD, "epochs": 1}]
    assert client.requests[0]["schema"]["properties"]["configs"]["maxItems"] == 2
    assert out.prompt_tokens == 100 and out.completion_tokens == 20 and out.latency_s == 0.5


def test_errors_are_sent_back_and_the_repair_is_used() -> None:
    client = ScriptedClient(answer(BAD), "Sure! " + answer(GOOD))
    out = ask_for_configs(client, _messages(), SPACE, k=2, max_repairs=2)
    assert out.ok and not out.first_valid and out.first_raw_valid_json and out.repairs == 1
    repair = client.requests[1]["messages"]
    assert repair[:2] == _messages() and repair[2] == {"role": "assistant", "content": answer(BAD)}
    _, data = split_data_block(repair[3]["content"])
    assert any("base_model" in p and "vgg16" in p for p in data["problems"])
    assert out.attempts[0].n_valid == 0 and out.attempts[1].format_score == 3


def test_text_without_json_is_repaired_with_the_parser_message() -> None:
    client = ScriptedClient("I think resnet18 is best.", answer(GOOD))
    out = ask_for_configs(client, _messages(), SPACE)
    assert out.ok and not out.first_valid and not out.first_raw_valid_json
    _, data = split_data_block(client.requests[1]["messages"][-1]["content"])
    assert "no JSON object" in data["problems"][0]


def test_giving_up_after_max_repairs_with_a_clear_failure() -> None:
    client = ScriptedClient(answer(BAD), answer(BAD), '{"configs": []}', "never asked")
    out = ask_for_configs(client, _messages(), SPACE, max_repairs=2)
    assert not out.ok and len(out.attempts) == 3 and len(client.texts) == 1
    assert "no valid configuration after 3 attempt(s)" in out.failure
    with pytest.raises(NoValidConfigError, match="no configuration was given|no valid configuration"):
        out.raise_for_failure()


def test_zero_repairs_means_one_ask() -> None:
    out = ask_for_configs(ScriptedClient(answer(BAD)), _messages(), SPACE, max_repairs=0)
    assert not out.ok and len(out.attempts) == 1 and out.answer is not None and out.answer.invalid


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
