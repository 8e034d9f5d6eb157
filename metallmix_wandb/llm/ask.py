"""Ask -> parse -> validate -> repair over any `ChatJSON` client, and the repair prompt it sends.

Pure logic: the client is handed in (the OpenAI-compatible adapter in production, a fake in tests),
so the loop never imports a network library. It records the first reply's raw validity (JSON and
configs) before any repair: the evaluation reports that rate separately from the repaired one. The
judge's repeated call is the judge's own (llm/judge.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from metallmix_wandb.llm.chat import ChatJSON, ChatResult
from metallmix_wandb.llm.messages import MAX_REPLY_CHARS, Message, cut_text, data_block, plain_data
from metallmix_wandb.llm.output import LLMOutputError, ParsedAnswer, parse_answer
from metallmix_wandb.llm.schemas import answer_schema

if TYPE_CHECKING:
    from metallmix_wandb.space.search_space import SearchSpace


class Attempt(BaseModel):
    """One ask (the first, or a repair) and what came of it."""

    chat: ChatResult
    n_valid: int = 0
    raw_valid_json: bool = False
    format_score: int = 0
    problems: list[str] = Field(default_factory=list)


class NoValidConfigError(LLMOutputError):
    """Every ask and repair failed to give a config inside the space."""


class RepairOutcome(BaseModel):
    """The answer (if any valid config came) and every attempt, for logging and evaluation."""

    answer: ParsedAnswer | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    failure: str = ""

    @property
    def ok(self) -> bool:
        return self.answer is not None and self.answer.ok

    @property
    def first_valid(self) -> bool:
        """The first reply, before any repair, held at least one valid config."""
        return bool(self.attempts) and self.attempts[0].n_valid > 0

    @property
    def first_raw_valid_json(self) -> bool:
        return bool(self.attempts) and self.attempts[0].raw_valid_json

    @property
    def repairs(self) -> int:
        return max(0, len(self.attempts) - 1)

    @property
    def prompt_tokens(self) -> int:
        return sum(a.chat.prompt_tokens for a in self.attempts)

    @property
    def completion_tokens(self) -> int:
        return sum(a.chat.completion_tokens for a in self.attempts)

    @property
    def latency_s(self) -> float:
        return sum(a.chat.latency_s for a in self.attempts)

    def raise_for_failure(self) -> ParsedAnswer:
        """The answer, or NoValidConfigError with the last problems."""
        if not self.ok or self.answer is None:
            raise NoValidConfigError(self.failure or "no valid configuration")
        return self.answer


def ask_for_configs(
    client: ChatJSON,
    messages: Sequence[Message],
    space: SearchSpace,
    *,
    k: int = 1,
    max_repairs: int = 2,
    max_tokens: int | None = None,
    schema: dict[str, Any] | None = None,
) -> RepairOutcome:
    """Ask, and while no valid config came, send the problems back (at most `max_repairs` times).

    Each repair is the original messages + the last reply + its problems, not the whole history, so
    the context stays small for local models. Client errors (server unreachable) propagate.
    """
    schema = schema or answer_schema(space, k)
    outcome = RepairOutcome()
    convo = list(messages)
    for _ in range(max_repairs + 1):
        chat = client.chat_json(convo, schema, name="recommendation", max_tokens=max_tokens)
        try:
            parsed: ParsedAnswer | None = parse_answer(chat.text, space, max_configs=k)
            problems = parsed.problems() if parsed else []
        except LLMOutputError as e:
            parsed, problems = None, [str(e)]
        if parsed is not None and not parsed.ok and not problems:
            problems = ["no configuration was given"]
        outcome.attempts.append(Attempt(
            chat=chat, n_valid=len(parsed.configs) if parsed else 0,
            raw_valid_json=bool(parsed and parsed.raw_valid_json),
            format_score=parsed.format_score if parsed else 0, problems=problems,
        ))
        if parsed is not None:
            outcome.answer = parsed
        if parsed is not None and parsed.ok:
            outcome.failure = ""
            return outcome
        outcome.failure = (
            f"no valid configuration after {len(outcome.attempts)} attempt(s); last problems: "
            + "; ".join(problems[:8])
        )
        convo = repair_messages(messages, chat.text, problems)
    return outcome


def repair_messages(
    messages: Sequence[Message], reply: str, errors: Sequence[str], *, max_reply_chars: int = MAX_REPLY_CHARS
) -> list[Message]:
    """The conversation so far, the unusable reply, and its problems (as data) with a request to retry."""
    cut = cut_text(reply, max_reply_chars)
    ask = (
        "Your previous reply could not be used: its problems are listed in the data block below. Reply "
        "again with one JSON object in the required format, every value taken from the search space."
    )
    problems = plain_data({"problems": [str(e) for e in errors][:30]})
    return [*messages, {"role": "assistant", "content": cut}, {"role": "user", "content": f"{ask}\n\n{data_block(problems)}"}]
