"""The OpenAI-compatible client against a loopback server that answers badly on purpose."""

from __future__ import annotations

import json
import logging
import time

import pytest
from pydantic import SecretStr

from metallmix_wandb.llm.client import LLMClient, LLMReplyError, LLMRequestError, LLMUnavailableError
from metallmix_wandb.llm.server import RESPONSE_MODE, free_port
from metallmix_wandb.llm.ask import ask_for_configs
from metallmix_wandb.llm.schemas import answer_schema
from metallmix_wandb.recommend.prompts import recommendation_messages
from metallmix_wandb.settings import Settings
from tests.support.fake_llm import FakeLLMServer, drip, fail, hang, llama_cpp_like, raw, reject_formats, reply
from tests.support.llm_data import GOOD, META, answer, space

SPACE = space()
SCHEMA = answer_schema(SPACE, k=2)
MESSAGES = recommendation_messages(SPACE, META, k=2)
KEY = "sk-test-SECRET-1234567890"
BAD = {**GOOD, "base_model": "vgg16", "dropout": 3.0}


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _client(server: FakeLLMServer, **kw) -> LLMClient:
    kw.setdefault("sleep", Sleeps())
    return LLMClient(server.base_url, "fake", kw.pop("api_key", KEY), **kw)


def _assert_only_valid(outcome) -> None:  # noqa: ANN001
    configs = outcome.answer.configs if outcome.answer else []
    for c in configs:
        assert SPACE.validate_config(c).ok


def test_asks_for_strict_json_schema_first_at_temperature_0() -> None:
    with FakeLLMServer([reply(answer(GOOD))]) as server:
        client = _client(server, max_tokens=300)
        result = client.chat_json(MESSAGES, SCHEMA, name="recommendation")
    req = server.requests[0]
    assert req["model"] == "fake" and req["temperature"] == 0 and req["max_tokens"] == 300
    assert req["response_format"] == {"type": "json_schema",
                                      "json_schema": {"name": "recommendation", "schema": SCHEMA, "strict": True}}
    assert req["messages"] == MESSAGES
    assert server.headers[0]["authorization"] == f"Bearer {KEY}"
    assert result.mode == "json_schema" and json.loads(result.text)["configs"] == [GOOD]
    assert (result.prompt_tokens, result.completion_tokens, result.http_attempts) == (50, 10, 1)
    assert result.latency_s > 0 and result.finish_reason == "stop"


def test_falls_back_to_llama_cpp_json_object_and_remembers() -> None:
    with FakeLLMServer([llama_cpp_like(answer(GOOD))]) as server:
        client = _client(server)
        first = client.chat_json(MESSAGES, SCHEMA)
        second = client.chat_json(MESSAGES, SCHEMA)
    types = [r["response_format"]["type"] for r in server.requests]
    assert types == ["json_schema", "json_object", "json_object"]  # the rejected mode is not retried
    assert server.requests[1]["response_format"]["schema"] == SCHEMA
    assert first.mode == second.mode == client.mode == "json_object"
    assert first.http_attempts == 2 and second.http_attempts == 1


def test_a_client_of_a_known_server_starts_at_its_mode_and_wastes_no_request() -> None:
    with FakeLLMServer([llama_cpp_like(answer(GOOD))]) as server:
        client = _client(server, first_mode=RESPONSE_MODE)
        first = client.chat_json(MESSAGES, SCHEMA)
    assert [r["response_format"]["type"] for r in server.requests] == ["json_object"]
    assert first.mode == "json_object" and first.http_attempts == 1
    with pytest.raises(ValueError, match="unknown response mode"):
        _client(server, first_mode="yaml")


def test_falls_back_to_plain_text_with_the_schema_in_the_prompt() -> None:
    with FakeLLMServer([reject_formats("Here you go:\n```json\n" + answer(GOOD) + "\n```")]) as server:
        client = _client(server)
        outcome = ask_for_configs(client, MESSAGES, SPACE, k=2)
    assert [r.get("response_format", {}).get("type") for r in server.requests] == ["json_schema", "json_object", None]
    last = server.requests[-1]["messages"]
    assert last[:-1] == MESSAGES and "JSON Schema" in last[-1]["content"]
    assert outcome.ok and outcome.attempts[0].chat.mode == "text" and not outcome.first_raw_valid_json


def test_retries_5xx_with_exponential_backoff_then_succeeds() -> None:
    sleeps = Sleeps()
    with FakeLLMServer([fail(503), fail(500, "boom"), fail(429, "slow down"), reply(answer(GOOD))]) as server:
        result = _client(server, max_retries=3, backoff_s=0.5, sleep=sleeps).chat_json(MESSAGES, SCHEMA)
    assert result.http_attempts == 4 and len(server.requests) == 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_gives_up_on_persistent_5xx_naming_the_url() -> None:
    with FakeLLMServer([fail(502, "bad gateway")]) as server:
        client = _client(server, max_retries=2, backoff_s=0.01)
        with pytest.raises(LLMUnavailableError) as err:
            client.chat_json(MESSAGES, SCHEMA)
    assert server.base_url in str(err.value) and "3 tries" in str(err.value) and "HTTP 502" in str(err.value)
    assert len(server.requests) == 3


@pytest.mark.timeout(50)  # a 30 s hang waited out in full, or retried, would fail here
def test_a_hanging_server_times_out_once_retries_included() -> None:
    with FakeLLMServer([hang(30)]) as server:
        client = _client(server, timeout_s=0.3, max_retries=1, backoff_s=0.01)
        with pytest.raises(LLMUnavailableError, match="no answer within 0.3 s"):
            client.chat_json(MESSAGES, SCHEMA)
    assert len(server.requests) == 1  # the wait used the whole deadline: no retry after it


def test_a_dripping_server_is_cut_off_at_the_deadline() -> None:
    with FakeLLMServer([drip(answer(GOOD), 0.2)]) as server:  # the whole body would take over a minute
        with pytest.raises(LLMUnavailableError, match="no answer within 1 s"):
            _client(server, timeout_s=1, max_retries=3).chat_json(MESSAGES, SCHEMA)
    assert len(server.requests) == 1


def test_retries_and_their_backoff_stop_at_the_deadline() -> None:
    with FakeLLMServer([fail(503)]) as server:
        with pytest.raises(LLMUnavailableError, match="HTTP 503"):
            _client(server, timeout_s=3, max_retries=50, backoff_s=0.2, sleep=time.sleep).chat_json(MESSAGES, SCHEMA)
    assert 2 <= len(server.requests) < 10  # 0.2 + 0.4 + 0.8 + 1.6 s of backoff fill the deadline: not 50 retries


def test_a_body_that_is_not_json_is_a_reply_error_naming_what_came() -> None:
    with FakeLLMServer([raw(200, "<html>Bad Gateway</html>")]) as server:
        with pytest.raises(LLMReplyError, match=r"HTTP 200 \(application/json\) with a body that is not JSON: '<html>Bad"):
            _client(server).chat_json(MESSAGES, SCHEMA)
    assert len(server.requests) == 1


def test_connection_refused_is_unavailable_with_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    client = LLMClient(url, "fake", KEY, max_retries=2, backoff_s=0.01, sleep=Sleeps())
    with pytest.raises(LLMUnavailableError) as err:
        client.chat_json(MESSAGES, SCHEMA)
    assert url in str(err.value) and "cannot connect" in str(err.value) and "llm serve" in str(err.value)


@pytest.mark.parametrize(("status", "hint"), [(401, "API key"), (404, "--model"), (400, "")])
def test_client_errors_are_not_retried_and_never_show_the_key(status: int, hint: str) -> None:
    logger = logging.getLogger("metallmix_wandb.llm.client")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        with FakeLLMServer([fail(status, f"Incorrect API key provided: {KEY}")]) as server:
            client = _client(server)
            with pytest.raises(LLMRequestError) as err:
                client.chat_json(MESSAGES, SCHEMA)
    finally:
        logger.removeHandler(handler)
    text = str(err.value)
    assert f"HTTP {status}" in text and hint in text and server.base_url in text
    assert KEY not in text and KEY not in repr(err.value) and err.value.__cause__ is None
    assert len(server.requests) == 1
    assert all(KEY not in r.getMessage() for r in records)


def test_a_prompt_longer_than_the_context_says_what_to_do() -> None:
    message = "This model's maximum context length is 2048 tokens. However, you requested 2255 tokens"
    with FakeLLMServer([fail(400, message)]) as server:
        with pytest.raises(LLMRequestError, match="fewer experiments, or start it with a larger --ctx"):
            _client(server).chat_json(MESSAGES, SCHEMA)


def test_the_key_is_never_in_repr_or_settings() -> None:
    client = LLMClient("http://127.0.0.1:1/v1", "m", SecretStr(KEY))
    assert KEY not in repr(client) and "**" in repr(client)
    settings = Settings(llm_base_url="http://127.0.0.1:1/v1", llm_model="m", llm_api_key=KEY)
    assert KEY not in repr(settings)
    assert "None" in repr(LLMClient("http://x/v1", "m"))


def test_no_key_sends_a_placeholder() -> None:
    with FakeLLMServer([reply(answer(GOOD))]) as server:
        LLMClient(server.base_url, "fake", None).chat_json(MESSAGES, SCHEMA)
    assert server.headers[0]["authorization"] == "Bearer sk-no-key-required"


def test_a_reply_that_is_not_a_completion_is_a_request_error() -> None:
    with FakeLLMServer([raw(200, '{"unexpected": true}')]) as server:
        with pytest.raises(LLMRequestError, match="no message"):
            _client(server).chat_json(MESSAGES, SCHEMA)


# --------------------------------------------------------------------------- nothing invalid comes out


def test_invalid_json_then_values_outside_the_space_then_a_good_answer() -> None:
    script = [reply("{configs: [resnet18]"), reply(answer(BAD)), reply(answer(BAD, GOOD))]
    with FakeLLMServer(script) as server:
        outcome = ask_for_configs(_client(server), MESSAGES, SPACE, k=2, max_repairs=2)
    assert outcome.ok and not outcome.first_valid and outcome.repairs == 2
    assert outcome.answer is not None and outcome.answer.configs == [{**GOOD, "epochs": 1}]
    assert outcome.answer.invalid[0][0] == BAD
    _assert_only_valid(outcome)


def test_a_server_that_only_answers_badly_yields_no_config() -> None:
    with FakeLLMServer([reply(answer(BAD)), reply("no json here"), reply('{"configs": [{"base_model": "resn')]) as server:
        outcome = ask_for_configs(_client(server), MESSAGES, SPACE, k=2, max_repairs=2)
    assert not outcome.ok and len(server.requests) == 3
    assert outcome.answer is None or outcome.answer.configs == []
    assert "no valid configuration after 3 attempt(s)" in outcome.failure


def test_a_truncated_reply_keeps_whole_configs_only() -> None:
    text = answer(GOOD, {**GOOD, "fine_tuning": "partial_100"}, explanation="long " * 50)
    cut = text[: text.index("partial_100") + len("partial_10")]
    with FakeLLMServer([reply(cut, finish="length")]) as server:
        outcome = ask_for_configs(_client(server), MESSAGES, SPACE, k=2, max_repairs=0)
    assert outcome.ok and outcome.answer is not None
    assert outcome.answer.configs == [{**GOOD, "epochs": 1}] and outcome.answer.extraction == "truncated"
    assert outcome.attempts[0].chat.finish_reason == "length"
    _assert_only_valid(outcome)


def test_a_5xx_during_repair_is_retried_inside_the_loop() -> None:
    with FakeLLMServer([reply(answer(BAD)), fail(500), reply(answer(GOOD))]) as server:
        outcome = ask_for_configs(_client(server, backoff_s=0.01), MESSAGES, SPACE, k=2)
    assert outcome.ok and outcome.attempts[1].chat.http_attempts == 2
