"""The LLM's explanation in a second, plain-text call (issue 13 item 2), after it chose in JSON.

Small models write worse text inside a JSON grammar: SmolLM2-135M's JSON-embedded explanation was `{`
in 6 of 6 runs (benchmarks/explanation_bench.py). So the choice is asked for as JSON without an
explanation, then the same conversation continues: the server's prompt cache (llama.cpp) already holds
the prompt, so only the last two turns are read. The assistant turn states the choice as short plain
facts (the chosen values, most influential first, and the SHAP effect of each key value): with the
choice as JSON there, SmolLM2 named the chosen values in 0 of 8 explanations and invented others ("a
learning rate of 0.3"); it writes from facts it can read. The request text is fixed. The check
(recommend/explanation_check.py) still applies in full to what the model writes: nothing is prefilled.
Pure: the client is handed in.

Tested in tests/recommend/test_explain_text.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

from metallmix_wandb.llm.chat import ChatResult
from metallmix_wandb.llm.messages import MAX_REPLY_CHARS, Message, cut_text
from metallmix_wandb.numbers import short

ExplanationMode = Literal["text", "json"]
EXPLANATION_MODES: tuple[str, ...] = ("text", "json")

EXPLAIN_REQUEST = (
    "Now explain that choice to the user in two or three plain English sentences: name the values you chose "
    "and say why, using the SHAP effects you stated. Quote only numbers stated above. Do not write JSON, "
    "code or a list."
)
"""The second call's request: fixed text. The chosen config is in the assistant turn before it (`said`), as
plain facts, not in a data block: a JSON block right before the answer made SmolLM2 copy JSON (1 of 1
run, `{"chosen_config": ...`)."""

MAX_VALUE_CHARS = 60
"""A config value longer than this is cut in the facts (a value is a label, not text to read)."""


class Reason(NamedTuple):
    """The SHAP digest's mean effect (on the within-dataset percentile) of one chosen value."""

    param: str
    value: Any
    mean_shap: float


def said(pick: int, config: Mapping[str, Any], reasons: Sequence[Reason] = ()) -> str:
    """The choice as the assistant's own short plain sentences, the kind of text the user should read:
    `I choose candidate 2, with learning_rate 0.001 and base_model mobilenet_v2. In the SHAP digest,
    learning_rate 0.001 helps the percentile (+0.315) and base_model mobilenet_v2 hurts it (-0.179).` The
    values are those of the most influential parameters (`reasons`; every value when there are none).
    SmolLM2 paraphrases what it reads: kept short, so its paraphrase fits the length cap."""
    what = "my own configuration" if pick == 0 else f"candidate {pick}"
    named = [(r.param, r.value) for r in reasons if r.param in config] or list(config.items())
    out = f"I choose {what}, with {_and(f'{k} {_value(v)}' for k, v in named)}."
    if reasons:
        effects = [f"{r.param} {_value(r.value)} {'helps' if r.mean_shap > 0 else 'hurts'} the percentile "
                   f"({r.mean_shap:+.3f})" for r in reasons]
        out += f" In the SHAP digest, {_and(effects)}."
    return out


def _and(parts: Iterable[str]) -> str:
    items = list(parts)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _value(value: Any) -> str:
    return cut_text(short(value) if isinstance(value, float) else str(value), MAX_VALUE_CHARS)


@runtime_checkable
class ChatText(Protocol):
    """A client that can answer in plain text (llm/client.py's `LLMClient.chat_text`)."""

    def chat_text(self, messages: Sequence[Message], *, max_tokens: int | None = None,
                  temperature: float | None = None, seed: int | None = None) -> ChatResult: ...


def explanation_messages(messages: Sequence[Message], pick: int, config: Mapping[str, Any],
                         reasons: Sequence[Reason] = ()) -> list[Message]:
    """The choice's conversation, its reply as plain facts (`said`), and the request."""
    return [*messages, {"role": "assistant", "content": cut_text(said(pick, config, reasons), MAX_REPLY_CHARS)},
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
                    max_chars: int | None = None, reasons: Sequence[Reason] = ()) -> ChatResult:
    """One plain-text call for the explanation of `config`; `text` is tidied to `max_chars` (else to
    MAX_REPLY_CHARS: a server that ignores max_tokens must not put megabytes into the record)."""
    max_tokens = max(64, max_chars // 4) if max_chars else 300  # ~4 characters a token; tidy cuts the rest
    chat = llm.chat_text(explanation_messages(messages, pick, config, reasons), max_tokens=max_tokens)
    return chat.model_copy(update={"text": tidy(chat.text, max_chars or MAX_REPLY_CHARS)})
