"""The standard OpenAI form: `response_format={"type": "json_schema", ...}`, strict. Tested in
tests/llm/test_modes.py and tests/llm/test_client.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from metallmix_wandb.llm.messages import Message
from metallmix_wandb.llm.modes.base import ModeRequest, rejects_response_format


class JsonSchemaMode:
    """Strict `json_schema`: what OpenAI, Ollama and LM Studio enforce."""

    name = "json_schema"

    def request(self, messages: Sequence[Message], schema: dict[str, Any], name: str) -> ModeRequest:
        fmt = {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}
        return ModeRequest([dict(m) for m in messages], {"response_format": fmt})

    def rejected(self, status: int, text: str) -> bool:
        return rejects_response_format(status, text)
