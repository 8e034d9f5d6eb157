"""What a chat client returns (`ChatResult`) and what the ask/repair and judge loops need from one
(`ChatJSON`): the loops take any client that has `chat_json`, the OpenAI-compatible adapter in
production (llm/client.py), a scripted fake in tests. Pure.

Tested through the loops and the client (tests/llm/test_ask.py, test_judge.py, test_client.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import BaseModel, Field, field_validator

from metallmix_wandb.llm.messages import Message
from metallmix_wandb.llm.modes import RESPONSE_MODES


class ChatResult(BaseModel):
    """One chat completion: the text and what it cost."""

    text: str
    mode: str = Field(description="how the output was constrained: a response mode (json_schema, json_object or text)")
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    finish_reason: str | None = None
    http_attempts: int = Field(1, description="requests sent, retries and format fallbacks included")

    @field_validator("mode")
    @classmethod
    def _known_mode(cls, value: str) -> str:
        if value not in RESPONSE_MODES:
            raise ValueError(f"unknown response mode {value!r} (expected one of {list(RESPONSE_MODES)})")
        return value


class ChatJSON(Protocol):
    """What the loops need from a client (the adapter `LLMClient` implements it)."""

    def chat_json(
        self,
        messages: Sequence[Message],
        schema: dict[str, Any],
        *,
        name: str = "answer",
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> ChatResult: ...
