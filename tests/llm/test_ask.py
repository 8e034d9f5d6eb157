from __future__ import annotations

import pytest

from metallmix_wandb.llm.ask import NoValidConfigError, ask_for_configs
from metallmix_wandb.recommend.prompts import recommendation_messages
from tests.support.data_block import split_data_block
from tests.support.fake_llm import ScriptedClient
from tests.support.llm_data import GOOD, META, answer, space

SPACE = space()
BAD = {**GOOD, "base_model": "vgg16"}


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
