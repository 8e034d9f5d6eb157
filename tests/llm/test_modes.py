"""The response modes: the registry's fallback order, the request each mode sends, and which server
errors count as rejecting it (the client's fallback itself is in test_client.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from metallmix_wandb.llm.chat import ChatResult
from metallmix_wandb.llm.modes import RESPONSE_MODES, response_mode

MESSAGES = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
SCHEMA = {"type": "object", "properties": {"x": {"type": "integer"}}}


def test_the_registry_lists_the_fallback_order_and_resolves_each_mode() -> None:
    assert list(RESPONSE_MODES) == ["json_schema", "json_object", "text"]
    for name in RESPONSE_MODES:
        assert response_mode(name).name == name
    with pytest.raises(KeyError):
        response_mode("grammar")


def test_json_schema_asks_in_the_standard_strict_form() -> None:
    req = response_mode("json_schema").request(MESSAGES, SCHEMA, "answer")
    assert req.messages == MESSAGES and req.messages[0] is not MESSAGES[0]
    assert req.params == {"response_format": {"type": "json_schema",
                                              "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True}}}


def test_json_object_sends_the_schema_beside_it() -> None:
    req = response_mode("json_object").request(MESSAGES, SCHEMA, "answer")
    assert req.messages == MESSAGES and req.params == {"response_format": {"type": "json_object", "schema": SCHEMA}}


def test_text_puts_the_schema_in_a_last_user_message() -> None:
    req = response_mode("text").request(MESSAGES, SCHEMA, "answer")
    assert req.params == {} and req.messages[:2] == MESSAGES and req.messages[2]["role"] == "user"
    assert req.messages[2]["content"].startswith("Reply with one JSON object") and '"integer"' in req.messages[2]["content"]


@pytest.mark.parametrize("name", ["json_schema", "json_object"])
@pytest.mark.parametrize(("status", "text", "rejected"), [
    (500, "Internal error: response_format json_schema not supported", True),
    (400, "Invalid GRAMMAR", True),
    (422, "unknown field schema", True),
    (500, "out of memory", False),
    (503, "response_format busy", False),
    (401, "schema", False),
])
def test_json_modes_recognise_a_rejected_format(name: str, status: int, text: str, rejected: bool) -> None:
    assert response_mode(name).rejected(status, text) is rejected


def test_text_mode_is_never_rejected() -> None:
    assert response_mode("text").rejected(500, "response_format schema grammar") is False


def test_a_chat_result_names_a_registered_mode() -> None:
    assert ChatResult(text="{}", mode="json_object").mode == "json_object"
    with pytest.raises(ValidationError, match="unknown response mode"):
        ChatResult(text="{}", mode="grammar")
