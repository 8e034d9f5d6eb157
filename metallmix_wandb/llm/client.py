"""The OpenAI-compatible chat client: any base URL (Ollama, LM Studio, llama.cpp, OpenAI) + model + key.

Schema-constrained output is asked for in the response modes' fallback order (llm/modes/): the
standard form first (`json_schema`, strict). Servers that reject it (llama-cpp-python answers HTTP
500) get their own `{"type": "json_object", "schema": ...}` form, then plain text with the schema in
the prompt (the parser extracts the JSON). The mode that worked is remembered per client, so later
calls go straight to it.

One deadline covers each call (`timeout_s`, `--llm-timeout`): connecting, waiting, reading the whole
body, and the retries with their backoff, all inside it. The body is read in chunks and the clock is
checked between them, so a server that drips one byte a second is cut off at the deadline like one that
never answers. Retries with exponential backoff cover connection errors, 429 and 5xx while time is
left; anything else is reported at once. The default deadline (300 s) fits a 4-8B model on a CPU with
a grammar, which can take minutes per answer.

The body is decoded and read here (llm/reply.py), not by the SDK's lenient models: a reply of any shape
either becomes text for the parser or an LLMError, the error `--fallback` handles. The API key is a
SecretStr: it never appears in a repr, a log line or an error, and a reply that echoes it (or another
configured secret, such as the Qdrant key) gets it masked (secrets.redact) before anything stores,
prints or quotes the reply back.
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
from metallmix_wandb.llm.reply import ReplyShapeError, read_completion
from metallmix_wandb.safe_text import for_terminal
from metallmix_wandb.secrets import redact

log = logging.getLogger(__name__)

NO_KEY = "sk-no-key-required"  # local servers ignore the key, but the openai package wants one
FALLBACK_ORDER: tuple[str, ...] = tuple(RESPONSE_MODES)
DEFAULT_TIMEOUT_S = 300.0
"""One call's deadline: a 4-8B model on a CPU with a grammar can take minutes per answer."""
MAX_BODY_BYTES = 8_000_000
"""A longer body is not an answer (a JSON answer is a few kB): reading stops there."""


class LLMError(RuntimeError):
    """Base of the client's errors; messages name the URL and model, never the key."""


class LLMUnavailableError(LLMError):
    """No usable answer from the server after the retries (unreachable, timing out, or failing 5xx)."""


class LLMRequestError(LLMError):
    """The server answered with an error that retrying will not fix (auth, unknown model, bad request)."""


class LLMReplyError(LLMRequestError):
    """The server answered 200 with something that is not a chat completion (not JSON, no message)."""


class _DeadlinePassed(Exception):
    """The call's deadline passed while the body was still arriving."""


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
        timeout_s: float = DEFAULT_TIMEOUT_S,
        secrets: Sequence[SecretStr | str | None] = (),
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        temperature: float = 0.0,
        max_tokens: int = 512,
        sleep: Callable[[float], None] = time.sleep,
        first_mode: str | None = None,
    ) -> None:
        if not base_url:
            raise ValueError("base_url is required (e.g. http://127.0.0.1:8765/v1)")
        if not model:
            raise ValueError("model is required (the name the server knows the model by)")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._api_key = _secret(api_key)
        self._secrets = [self._api_key, *secrets]  # masked in every reply and error text
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.temperature = temperature
        self.max_tokens = max_tokens
        self._sleep = sleep
        if first_mode is not None and first_mode not in FALLBACK_ORDER:
            raise ValueError(f"unknown response mode {first_mode!r} (expected one of {list(FALLBACK_ORDER)})")
        # Into FALLBACK_ORDER: the first mode not known to be rejected. `first_mode` skips the ones a known
        # server rejects (the embedded llama-cpp-python answers json_schema with HTTP 500), so no call
        # wastes a request on them; an unknown server starts at the standard form.
        self._mode_index = FALLBACK_ORDER.index(first_mode) if first_mode else 0
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
        return redact(text, self._secrets) if isinstance(text, str) else text

    def _where(self) -> str:
        return f"{self.base_url} (model {self.model!r})"

    def complete(
        self, messages: Sequence[Message], *, mode: ResponseMode | None = None, deadline: float | None = None,
        **params: Any,
    ) -> tuple[Any, int, float]:
        """One chat completion with retries, all before `deadline` (a `time.perf_counter()` value; default
        `timeout_s` from now): (decoded body, requests sent, seconds). Raises LLMError, or _FormatRejected
        when the server refused the way `mode` asked for JSON."""
        import openai

        sent, start = 0, time.perf_counter()
        deadline = start + self.timeout_s if deadline is None else deadline
        problem = f"no answer within {self.timeout_s:g} s"
        for attempt in range(self.max_retries + 1):
            sent += 1
            try:
                body = self._post(list(messages), params, deadline)
                return body, sent, time.perf_counter() - start
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
            except (openai.APITimeoutError, _DeadlinePassed):
                problem = f"no answer within {self.timeout_s:g} s"
                break  # every wait is bounded by the time left: it has run out
            except openai.APIConnectionError as e:
                problem = f"cannot connect ({self._scrub(str(e.__cause__ or e))})"
            left = deadline - time.perf_counter()
            if attempt < self.max_retries and left > 0:
                delay = min(self.max_backoff_s, self.backoff_s * 2**attempt, left)
                log.warning("LLM %s: %s; retry %d/%d in %.1f s", self._where(), problem, attempt + 1,
                            self.max_retries, delay)
                self._sleep(delay)
            if deadline - time.perf_counter() <= 0:
                break
        raise LLMUnavailableError(
            f"the LLM server at {self._where()} gave no answer after {sent} tries: {problem}. Is it running? "
            "Start the local one with `metallmix-wandb llm serve`, or pass --base-url (or a longer --llm-timeout)."
        )

    def _post(self, messages: list[Message], params: dict[str, Any], deadline: float) -> Any:
        """One request; the decoded JSON body. Every socket wait (connect, the status line, each read) is
        bounded by the time left, and the clock is checked after each chunk of the body, so a server that
        answers late or drips its body is cut off at `deadline`."""
        left = deadline - time.perf_counter()
        if left <= 0:
            raise _DeadlinePassed
        chunks: list[bytes] = []
        size = 0
        create = self._openai().chat.completions.with_streaming_response.create
        with create(model=self.model, messages=messages, timeout=left, **params) as resp:
            status, ctype = resp.status_code, resp.headers.get("content-type", "")
            for chunk in resp.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if time.perf_counter() > deadline:
                    raise _DeadlinePassed
                if size > MAX_BODY_BYTES:
                    raise LLMReplyError(f"the LLM server at {self._where()} sent a reply over "
                                        f"{MAX_BODY_BYTES // 1_000_000} MB: not an answer")
        raw = b"".join(chunks)
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            head = self._scrub(raw[:400].decode("utf-8", "replace"))[:80]  # masked before it is cut
            raise LLMReplyError(
                f"the LLM server at {self._where()} answered HTTP {status} ({ctype or 'no content type'}) with a "
                f"body that is not JSON: {head!r}{'...' if len(raw) > 80 else ''}. Is --base-url an "
                "OpenAI-compatible endpoint (ending in /v1)?"
            ) from None

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
        deadline = start + self.timeout_s  # one deadline for the call, format fallbacks included
        while True:
            mode = response_mode(self.mode)
            request = mode.request(messages, schema, name)
            try:
                resp, n, _ = self.complete(request.messages, mode=mode, deadline=deadline, **params,
                                           **request.params)
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
        body, sent, latency = self.complete(messages, **params)
        return self._result(body, "text", sent, latency)

    def _result(self, body: Any, mode: str, sent: int, latency: float) -> ChatResult:
        try:
            reply = read_completion(body)
        except ReplyShapeError as e:
            raise LLMReplyError(f"the LLM server at {self._where()} sent {e}") from None
        return ChatResult(
            text=self._scrub(reply.text), mode=mode, model=self._scrub(reply.model or self.model),
            prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens,
            latency_s=latency, finish_reason=reply.finish_reason, http_attempts=sent,
        )


def _status_text(e: Any) -> str:
    body = getattr(e, "body", None)
    text = json.dumps(body, default=str) if body is not None else ""
    msg = str(getattr(e, "message", "") or "")
    out = msg if text in msg else f"{msg} {text}".strip()
    return for_terminal(out[:500])  # it ends up in a log line, an error on the terminal, a record


def _hint(status: int, text: str = "") -> str:
    if "context" in text.lower() and ("length" in text.lower() or "window" in text.lower()):
        return " (the prompt is longer than the server's context window: retrieve fewer experiments, or start it with a larger --ctx)"
    if status in (401, 403):
        return " (check the API key: --api-key, METALLMIX_LLM_API_KEY or OPENAI_API_KEY)"
    if status == 404:
        return " (check --model and that --base-url ends in /v1)"
    return ""
