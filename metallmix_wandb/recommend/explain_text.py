"""The LLM's explanation in a second, plain-text call (issue 13 item 2), after it chose in JSON.

Small models write worse text inside a JSON grammar: SmolLM2-135M's JSON-embedded explanation was `{`
in 6 of 6 runs (benchmarks/explanation_bench.py). So the choice is asked for as JSON without an
explanation, then the same conversation continues with the reply and one plain request: the server's
prompt cache (llama.cpp) already holds the prompt, so only the reply and the request are read again.
The request text is fixed. Pure: the client is handed in.

Tested in tests/recommend/test_explain_text.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from metallmix_wandb.llm.chat import ChatResult
from metallmix_wandb.llm.messages import MAX_REPLY_CHARS, Message, cut_text, plain_data

ExplanationMode = Literal["text", "json"]
EXPLANATION_MODES: tuple[str, ...] = ("text", "json")

EXPLAIN_REQUEST = (
    "Now explain that choice to the user in two to four plain English sentences. Do not write JSON, code "
    "or a list. Name the chosen values of the most influential parameters and the evidence for them, "
    "quoting only numbers from the data."
)
"""The second call's request: fixed text. The chosen config is in the assistant turn before it (the
model's own reply, with the picked id resolved to its values), not in a data block: a JSON block right
before the answer made SmolLM2 copy JSON (1 of 1 run, `{"chosen_config": ...`)."""


@runtime_checkable
class ChatText(Protocol):
    """A client that can answer in plain text (llm/client.py's `LLMClient.chat_text`)."""

    def chat_text(self, messages: Sequence[Message], *, max_tokens: int | None = None,
                  temperature: float | None = None, seed: int | None = None) -> ChatResult: ...


def explanation_messages(messages: Sequence[Message], pick: int, config: Mapping[str, Any]) -> list[Message]:
    """The choice's conversation, its reply with the config the pick stands for, and the request."""
    said = json.dumps({"candidate": pick, "config": plain_data(dict(config))}, ensure_ascii=False)
    return [*messages, {"role": "assistant", "content": cut_text(said, MAX_REPLY_CHARS)},
            {"role": "user", "content": EXPLAIN_REQUEST}]


def tidy(text: str, max_chars: int | None = None) -> str:
    """The reply as an explanation: stripped, and when it ran past `max_chars` (or stopped at the token
    limit mid-sentence) cut back to its last full sentence."""
    out = text.strip()
    if max_chars and len(out) > max_chars:
        out = out[:max_chars]
    if out and out[-1] not in ".!?":
        ends = [m.end() for m in re.finditer(r"[.!?](?=\s|$)", out)]
        out = out[: ends[-1]] if ends else out
    return out


def ask_explanation(llm: ChatText, messages: Sequence[Message], pick: int, config: Mapping[str, Any],
                    max_chars: int | None = None) -> ChatResult:
    """One plain-text call for the explanation of `config`; `text` is tidied to `max_chars` (else to
    MAX_REPLY_CHARS: a server that ignores max_tokens must not put megabytes into the record)."""
    max_tokens = max(64, max_chars // 3) if max_chars else 300  # ~4 characters a token, with room to finish
    chat = llm.chat_text(explanation_messages(messages, pick, config), max_tokens=max_tokens)
    return chat.model_copy(update={"text": tidy(chat.text, max_chars or MAX_REPLY_CHARS)})
