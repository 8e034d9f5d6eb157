"""Ask -> parse -> validate -> repair, and the repeated judge call, over any `ChatJSON` client.

Pure logic: the client is handed in (the OpenAI-compatible adapter in production, a fake in tests),
so the loop never imports a network library. It records the first reply's raw validity (JSON and
configs) before any repair: the evaluation reports that rate separately from the repaired one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, Field

from metallmix_wandb.llm.output import (
    JudgeScores,
    LLMOutputError,
    ParsedAnswer,
    average_judge_scores,
    parse_answer,
    parse_judge_scores,
)
from metallmix_wandb.recommend.prompts import Message, answer_schema, judge_schema, repair_messages

if TYPE_CHECKING:
    from metallmix_wandb.space.search_space import SearchSpace

ResponseMode = Literal["json_schema", "json_object", "text"]
RESPONSE_MODES: tuple[str, ...] = ("json_schema", "json_object", "text")


class ChatResult(BaseModel):
    """One chat completion: the text and what it cost."""

    text: str
    mode: ResponseMode = Field(description="how the output was constrained: json_schema, json_object or text")
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    finish_reason: str | None = None
    http_attempts: int = Field(1, description="requests sent, retries and format fallbacks included")


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


class JudgeOutcome(BaseModel):
    """Averaged LLM judge scores, the code-computed format score, and the calls behind them."""

    scores: JudgeScores
    format_score_code: int | None = None
    calls: list[ChatResult] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list, description="judge replies that held no scores")

    @property
    def latency_s(self) -> float:
        return sum(c.latency_s for c in self.calls)

    @property
    def tokens(self) -> int:
        return sum(c.prompt_tokens + c.completion_tokens for c in self.calls)


def judge(
    client: ChatJSON,
    messages: Sequence[Message],
    *,
    repeats: int = 3,
    temperature: float | None = None,
    max_tokens: int | None = 256,
    format_score_code: int | None = None,
    schema: dict[str, Any] | None = None,
) -> JudgeOutcome:
    """Ask the judge `repeats` times (seeds 0..n-1) and average the scores that came back.

    At temperature 0 repeats are identical, so with repeats > 1 the default temperature is 0.7.
    `schema` defaults to `judge_schema()` (pass `judge_schema(rationale_max_chars=...)` for llama.cpp).
    """
    temp = temperature if temperature is not None else (0.7 if repeats > 1 else 0.0)
    schema = schema or judge_schema()
    calls: list[ChatResult] = []
    parsed: list[JudgeScores] = []
    errors: list[str] = []
    for seed in range(max(1, repeats)):
        chat = client.chat_json(messages, schema, name="judgement", max_tokens=max_tokens, temperature=temp, seed=seed)
        calls.append(chat)
        try:
            parsed.append(parse_judge_scores(chat.text))
        except LLMOutputError as e:
            errors.append(str(e))
    return JudgeOutcome(
        scores=average_judge_scores(parsed), format_score_code=format_score_code, calls=calls, errors=errors
    )
