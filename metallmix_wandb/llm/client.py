"""The OpenAI-compatible chat client: any base URL (Ollama, LM Studio, llama.cpp, OpenAI) + model + key.

Schema-constrained output is asked for in the response modes' fallback order (llm/modes/): the
standard form first (`json_schema`, strict). Servers that reject it (llama-cpp-python answers HTTP
500) get their own `{"type": "json_object", "schema": ...}` form, then plain text with the schema in
the prompt (the parser extracts the JSON). The mode that worked is remembered per client, so later
calls go straight to it.

Retries with exponential backoff cover connection errors, timeouts, 429 and 5xx; anything else is
reported at once. The default timeout is long (300 s) because a CPU server with a grammar can take a
minute or more per answer, and a timed-out request keeps the server busy while a retry queues behind it. The API key is a SecretStr: it never appears in a repr, a log line or an error, and a reply that echoes
it gets it masked (secrets.redact) before anything stores, prints or quotes the reply back.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import SecretStr

from metallmix_wandb.llm.chat import ChatResult
from metallmix_wandb.llm.messages import Message
from metallmix_wandb.llm.modes import RESPONSE_MODES, ResponseMode, response_mode
from metallmix_wandb.secrets import redact

log = logging.getLogger(__name__)

NO_KEY = "sk-no-key-required"  # local servers ignore the key, but the openai package wants one
FALLBACK_ORDER: tuple[str, ...] = tuple(RESPONSE_MODES)


class LLMError(RuntimeError):
    """Base of the client's errors; messages name the URL and model, never the key."""


class LLMUnavailableError(LLMError):
    """No usable answer from the server after the retries (unreachable, timing out, or failing 5xx)."""


class LLMRequestError(LLMError):
    """The server answered with an error that retrying will not fix (auth, unknown model, bad request)."""


class _FormatRejected(Exception):
    """The server refused our response_format: the caller falls back to the next mode."""

    def __init__(self, status: int, sent: int) -> None:
        super().__init__(status)
        self.status, self.sent = status, sent


def _secret(api_key: SecretStr | str | None) -> SecretStr | None:
    if api_key is None or isinstance(api_key, SecretStr):
        return api_key
    return SecretStr(api_key)


class LLMClient:
    """Chat completions with JSON-constrained output, retries and format fallback."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: SecretStr | str | None = None,
        *,
        timeout_s: float = 300.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        temperature: float = 0.0,
        max_tokens: int = 512,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url:
            raise ValueError("base_url is required (e.g. http://127.0.0.1:8765/v1)")
        if not model:
            raise ValueError("model is required (the name the server knows the model by)")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._api_key = _secret(api_key)
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.temperature = temperature
        self.max_tokens = max_tokens
        self._sleep = sleep
        self._mode_index = 0  # into FALLBACK_ORDER: the first mode not known to be rejected
        self._client: Any = None

    def __repr__(self) -> str:
        key = "'**********'" if self._api_key else None
        return f"LLMClient(base_url={self.base_url!r}, model={self.model!r}, api_key={key}, mode={self.mode!r})"

    @property
    def mode(self) -> str:
        """The response mode the next call will try first."""
        return FALLBACK_ORDER[self._mode_index]

    # ------------------------------------------------------------------ the wire

    def _openai(self) -> Any:
        if self._client is None:
            from openai import OpenAI

            key = self._api_key.get_secret_value() if self._api_key else NO_KEY
            self._client = OpenAI(base_url=self.base_url, api_key=key or NO_KEY, timeout=self.timeout_s, max_retries=0)
        return self._client

    def _scrub(self, text: Any) -> Any:
        """`text` with the key masked (other types are left to the caller's checks)."""
        return redact(text, [self._api_key]) if isinstance(text, str) else text

    def _where(self) -> str:
        return f"{self.base_url} (model {self.model!r})"

    def complete(
        self, messages: Sequence[Message], *, mode: ResponseMode | None = None, **params: Any
    ) -> tuple[Any, int, float]:
        """One chat completion with retries: (response, requests sent, seconds). Raises LLMError, or
        _FormatRejected when the server refused the way `mode` asked for JSON."""
        import openai

        sent, start = 0, time.perf_counter()
        for attempt in range(self.max_retries + 1):
            sent += 1
            try:
                resp = self._openai().chat.completions.create(model=self.model, messages=list(messages), **params)
                return resp, sent, time.perf_counter() - start
            except openai.APIStatusError as e:
                text = self._scrub(_status_text(e))
                if mode is not None and mode.rejected(e.status_code, _status_text(e)):
                    raise _FormatRejected(e.status_code, sent) from None
                if not (e.status_code == 429 or e.status_code >= 500):
                    raise LLMRequestError(
                        f"the LLM server at {self._where()} refused the request: HTTP {e.status_code}: "
                        f"{text}{_hint(e.status_code, text)}"
                    ) from None
                problem = f"HTTP {e.status_code}: {text}"
            except openai.APITimeoutError:
                problem = f"no answer within {self.timeout_s:g} s"
            except openai.APIConnectionError as e:
                problem = f"cannot connect ({self._scrub(str(e.__cause__ or e))})"
            if attempt < self.max_retries:
                delay = min(self.max_backoff_s, self.backoff_s * 2**attempt)
                log.warning("LLM %s: %s; retry %d/%d in %.1f s", self._where(), problem, attempt + 1,
                            self.max_retries, delay)
                self._sleep(delay)
        raise LLMUnavailableError(
            f"the LLM server at {self._where()} gave no answer after {sent} tries: {problem}. Is it running? "
            "Start the local one with `metallmix-wandb llm serve`, or pass --base-url."
        )

    # ------------------------------------------------------------------ JSON chat

    def chat_json(
        self,
        messages: Sequence[Message],
        schema: dict[str, Any],
        *,
        name: str = "answer",
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> ChatResult:
        """A reply constrained to `schema` as far as the server allows (see the module docstring)."""
        params: dict[str, Any] = {
            "temperature": self.temperature if temperature is None else temperature,
            "max_tokens": max_tokens or self.max_tokens,
        }
        if seed is not None:
            params["seed"] = seed
        sent, start = 0, time.perf_counter()  # latency counts rejected formats and retries: the user waits
        while True:
            mode = response_mode(self.mode)
            request = mode.request(messages, schema, name)
            try:
                resp, n, _ = self.complete(request.messages, mode=mode, **params, **request.params)
            except _FormatRejected as e:
                sent += e.sent
                log.warning("LLM %s rejected response_format %s (HTTP %d); falling back", self._where(), mode.name,
                            e.status)
                self._mode_index += 1
                continue
            return self._result(resp, mode.name, sent + n, time.perf_counter() - start)

    def chat_text(self, messages: Sequence[Message], *, max_tokens: int | None = None,
                  temperature: float | None = None, seed: int | None = None) -> ChatResult:
        """A plain-text reply (no response_format): for prose, which a JSON grammar only hurts."""
        params: dict[str, Any] = {"temperature": self.temperature if temperature is None else temperature,
                                  "max_tokens": max_tokens or self.max_tokens}
        if seed is not None:
            params["seed"] = seed
        resp, sent, latency = self.complete(messages, **params)
        return self._result(resp, "text", sent, latency)

    def _result(self, resp: Any, mode: str, sent: int, latency: float) -> ChatResult:
        try:
            choice = resp.choices[0]
            text = choice.message.content or ""
            finish = getattr(choice, "finish_reason", None)
        except (AttributeError, IndexError, TypeError):
            raise LLMRequestError(f"the LLM server at {self._where()} sent a reply with no message") from None
        usage = getattr(resp, "usage", None)
        return ChatResult(
            text=self._scrub(text), mode=mode, model=self._scrub(getattr(resp, "model", None) or self.model),
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            latency_s=latency, finish_reason=finish, http_attempts=sent,
        )


def _status_text(e: Any) -> str:
    body = getattr(e, "body", None)
    text = json.dumps(body, default=str) if body is not None else ""
    msg = str(getattr(e, "message", "") or "")
    out = msg if text in msg else f"{msg} {text}".strip()
    return out[:500]


def _hint(status: int, text: str = "") -> str:
    if "context" in text.lower() and ("length" in text.lower() or "window" in text.lower()):
        return " (the prompt is longer than the server's context window: retrieve fewer experiments, or start it with a larger --ctx)"
    if status in (401, 403):
        return " (check the API key: --api-key, METALLMIX_LLM_API_KEY or OPENAI_API_KEY)"
    if status == 404:
        return " (check --model and that --base-url ends in /v1)"
    return ""
