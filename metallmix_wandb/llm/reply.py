"""A chat-completion body (the server's JSON, already decoded) -> the fields the product uses.

Real servers send shapes the OpenAI SDK's models let through without checking: `message.content` as a
list of parts (the OpenAI content-parts format), as a number or an object; `"model": 123`;
`finish_reason: 5`; `usage.prompt_tokens: "many"`. The client reads the body itself, here, so every
shape either becomes text for the parser or a `ReplyShapeError` (which the client turns into an
`LLMError`, the error `--fallback` handles): never a traceback. Metadata that is not what the API
says (model, finish reason, token counts) is ignored, not fatal: it is bookkeeping. Pure.

Tested in tests/llm/test_reply.py and over HTTP through `recommend` in tests/recommend/test_hostile_replies.py.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel


class ReplyShapeError(ValueError):
    """The body is not a chat completion with a message: the message says what it was instead."""


class ReplyFields(BaseModel):
    """What a completion gave: the text, and the metadata that could be read (else the defaults)."""

    text: str
    model: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


def content_text(content: Any) -> str:
    """The message's text: a string as is; content parts joined (their `text`, other parts such as
    images or refusals skipped); None as ""; any other JSON value (a number, an object) as its JSON,
    so the answer parser can still read an object a server sent unquoted, and says what is wrong if not."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p if isinstance(p, str) else p.get("text") if isinstance(p, dict) else None for p in content]
        texts = [p for p in parts if isinstance(p, str)]
        if texts or not content:
            return "".join(texts)
    return json.dumps(content, ensure_ascii=False, default=str)


def _count(value: Any) -> int:
    """A token count, or 0 when the server sent something that is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return int(value) if value == value and 0 <= value < 2**53 else 0


def _label(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def read_completion(body: Any) -> ReplyFields:
    """The fields of a decoded chat-completion body; ReplyShapeError when there is no message in it."""
    choices = body.get("choices") if isinstance(body, dict) else None
    choice = choices[0] if isinstance(choices, list) and choices else None
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        got = f"a JSON {type(body).__name__}" if not isinstance(body, dict) else f"keys {sorted(body)[:6]}"
        raise ReplyShapeError(f"a reply with no message (expected choices[0].message, got {got})")
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    return ReplyFields(
        text=content_text(message.get("content")), model=_label(body.get("model")),
        finish_reason=_label(choice.get("finish_reason")),  # type: ignore[union-attr]
        prompt_tokens=_count(usage.get("prompt_tokens")),
        completion_tokens=_count(usage.get("completion_tokens")),
    )
