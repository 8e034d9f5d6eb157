"""A loopback OpenAI-compatible server (stdlib http.server in a thread) that answers as scripted.

Each POST to /v1/chat/completions takes the next step of the script; a step is a function of the
request body returning a `Reply`. Tests use it to make a server answer badly on purpose (invalid
JSON, values outside the space, cut-off replies, 5xx, hangs, rejected response formats).

    with FakeLLMServer([fail(500), reply(text)]) as server:
        client = LLMClient(server.base_url, "fake")
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from metallmix_wandb.llm.chat import ChatResult


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict -> JSON; str -> sent as is
    hang_s: float = 0.0  # wait this long (or until the server stops) before answering
    drip_s: float = 0.0  # send the body one byte at a time, this long apart (a server that never finishes)
    content_type: str = "application/json"


Step = Callable[[dict[str, Any]], Reply]


def completion(text: str, finish: str = "stop", model: str = "fake", prompt_tokens: int = 50,
               completion_tokens: int = 10) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


def reply(text: str, finish: str = "stop") -> Step:
    return lambda _req: Reply(200, completion(text, finish))


def fail(status: int, message: str = "server error") -> Step:
    return lambda _req: Reply(status, {"error": {"message": message, "type": "server_error", "code": status}})


def hang(seconds: float) -> Step:
    return lambda _req: Reply(200, completion("{}"), hang_s=seconds)


def raw(status: int, text: str) -> Step:
    return lambda _req: Reply(status, text)


def drip(text: str, every_s: float) -> Step:
    """A good answer, sent one byte every `every_s` seconds."""
    return lambda _req: Reply(200, completion(text), drip_s=every_s)


def llama_cpp_like(text: str) -> Step:
    """What llama-cpp-python does: HTTP 500 on response_format json_schema, answers json_object + schema."""

    def step(req: dict[str, Any]) -> Reply:
        fmt = req.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            return Reply(500, {"error": {"message": "1 validation error for ... response_format ... json_schema",
                                         "type": "internal_server_error"}})
        return Reply(200, completion(text))

    return step


def reject_formats(text: str) -> Step:
    """A server that accepts no response_format at all (HTTP 400), only plain chat."""

    def step(req: dict[str, Any]) -> Reply:
        if "response_format" in req:
            return Reply(400, {"error": {"message": "Unrecognized request argument supplied: response_format"}})
        return Reply(200, completion(text))

    return step


@dataclass
class FakeLLMServer:
    script: Sequence[Step]
    repeat_last: bool = True  # once the script is used up, keep answering with its last step
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._steps = list(self.script)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            step = self._steps.pop(0) if len(self._steps) > 1 or not self.repeat_last else self._steps[0]
        return step(body)

    def __enter__(self) -> FakeLLMServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, body: Any, reply: Reply | None = None) -> None:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", reply.content_type if reply else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not (reply and reply.drip_s):
                    self.wfile.write(data)
                    return
                for i in range(len(data)):
                    self.wfile.write(data[i:i + 1])
                    self.wfile.flush()
                    if fake._stopping.wait(reply.drip_s):
                        return

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake._lock:
                    fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                r = fake._next(body)
                if r.hang_s and fake._stopping.wait(r.hang_s):
                    return
                try:
                    self._send(r.status, r.body, r)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()


class ScriptedClient:
    """Answers with the given texts in turn and records every request."""

    def __init__(self, *texts: str, explanations: Sequence[str] = ()) -> None:
        self.texts = list(texts)
        self.explanations = list(explanations)
        self.replied: list[str] = []
        self.requests: list[dict[str, Any]] = []

    def chat_json(self, messages: Sequence[dict[str, str]], schema: dict[str, Any], *, name: str = "answer",
                  max_tokens: int | None = None, temperature: float | None = None,
                  seed: int | None = None) -> ChatResult:
        self.requests.append({"messages": list(messages), "schema": schema, "name": name, "temperature": temperature,
                              "seed": seed})
        self.replied.append(self.texts.pop(0))
        return ChatResult(text=self.replied[-1], mode="json_schema", prompt_tokens=100, completion_tokens=20,
                          latency_s=0.5)

    def chat_text(self, messages: Sequence[dict[str, str]], *, max_tokens: int | None = None,
                  temperature: float | None = None, seed: int | None = None) -> ChatResult:
        """The plain-text explanation call: the next of `explanations` when given, else the "explanation"
        of the last JSON reply (so a script written for JSON-embedded explanations tests the same text)."""
        self.requests.append({"messages": list(messages), "name": "text", "temperature": temperature, "seed": seed})
        if self.explanations:
            text = self.explanations.pop(0)
        else:
            last = next((r for r in reversed(self.replied) if r.strip().startswith("{")), "{}")
            try:
                said = json.loads(last).get("explanation", "")
            except (ValueError, AttributeError):
                said = ""
            text = said if isinstance(said, str) else ""
        return ChatResult(text=text, mode="text", prompt_tokens=30, completion_tokens=20, latency_s=0.2)
