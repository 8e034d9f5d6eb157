"""The `ResponseMode` protocol: one way of asking an OpenAI-compatible server for schema-shaped JSON.

Tested in tests/llm/test_modes.py and through the client's format fallback (tests/llm/test_client.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from metallmix_wandb.llm.messages import Message

FORMAT_WORDS = ("response_format", "json_schema", "json_object", "schema", "grammar")
"""Words in an error body that say the server refused our response_format, not the request."""


@dataclass(frozen=True)
class ModeRequest:
    """The messages to send and the extra request keyword arguments (e.g. `response_format`)."""

    messages: list[Message]
    params: dict[str, Any] = field(default_factory=dict)


class ResponseMode(Protocol):
    """How a request asks for JSON, and how to recognise that the server rejected the asking."""

    name: str

    def request(self, messages: Sequence[Message], schema: dict[str, Any], name: str) -> ModeRequest:
        """The request for a reply that follows `schema` (`name` labels the schema where the API wants one)."""
        ...

    def rejected(self, status: int, text: str) -> bool:
        """The server's error (HTTP `status`, body `text`) refused this mode: the client falls back."""
        ...


def rejects_response_format(status: int, text: str) -> bool:
    """The server refused a response_format (llama-cpp-python: HTTP 500; others: 400/422)."""
    if status not in (400, 422, 500):
        return False
    lowered = text.lower()
    return any(w in lowered for w in FORMAT_WORDS)
