"""llama-cpp-python's own form: `response_format={"type": "json_object", "schema": ...}` (its server
answers the standard `json_schema` form with HTTP 500). Tested in tests/llm/test_modes.py and
tests/llm/test_client.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from metallmix_wandb.llm.messages import Message
from metallmix_wandb.llm.modes.base import ModeRequest, rejects_response_format


class JsonObjectMode:
    """`json_object` with the schema beside it, which llama.cpp turns into a grammar."""

    name = "json_object"

    def request(self, messages: Sequence[Message], schema: dict[str, Any], name: str) -> ModeRequest:
        return ModeRequest([dict(m) for m in messages], {"response_format": {"type": "json_object", "schema": schema}})

    def rejected(self, status: int, text: str) -> bool:
        return rejects_response_format(status, text)
