"""Prompt only: no response_format, the schema appended as a last user message (the parser digs the
JSON out of whatever comes back). The last resort: no server can reject it. Tested in
tests/llm/test_modes.py and tests/llm/test_client.py."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from metallmix_wandb.llm.messages import Message
from metallmix_wandb.llm.modes.base import ModeRequest


class TextMode:
    """Plain text with the schema in the prompt."""

    name = "text"

    def request(self, messages: Sequence[Message], schema: dict[str, Any], name: str) -> ModeRequest:
        hint = "Reply with one JSON object, and nothing else, that follows this JSON Schema:\n" + json.dumps(schema)
        return ModeRequest([*(dict(m) for m in messages), {"role": "user", "content": hint}])

    def rejected(self, status: int, text: str) -> bool:
        return False  # no response_format was sent: an error here is about the request itself
