"""HTTP plumbing of the loopback backend: GraphQL dispatch, file downloads, faults, latency, counters."""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from tests.support.wandb_backend.model import World

_OP_RE = re.compile(r"\b(query|mutation)\s+([A-Za-z_][A-Za-z0-9_]*)")

FaultKind = Literal["status", "timeout", "reset"]
#: Non-GraphQL endpoints (file stream, uploads): (method, path regex, counted name, handler(backend,
#: match, body) -> (status, JSON answer)). Registered with `route` by the operations modules.
RouteHandler = Callable[["Backend", "re.Match[str]", bytes], tuple[int, Any]]
ROUTES: list[tuple[str, re.Pattern[str], str, RouteHandler]] = []
NON_GRAPHQL = {"file", "otel", "file_stream", "upload"}  # counted names that are not GraphQL operations


def route(method: str, pattern: str, name: str) -> Callable[[RouteHandler], RouteHandler]:
    """Serve `method` on paths matching `pattern`; requests are counted (and faulted) as `name`."""
    def register(fn: RouteHandler) -> RouteHandler:
        ROUTES.append((method, re.compile(pattern), name, fn))
        return fn
    return register


class GraphQLError(Exception):
    """Raise in an operation handler: the backend answers 200 with {"errors": [...]}, like W&B."""


@dataclass
class GqlRequest:
    operation: str
    query: str
    variables: dict[str, Any]


@dataclass
class Fault:
    """Answer matching requests with `status` (kind "status"), hang `hang_s` then drop the connection
    (kind "timeout"), or drop it at once (kind "reset"). `times=None` means every matching request.

    wandb-core (0.31) retries 5xx/429 and dropped connections up to 20 times with a backoff of
    2 s * 2^attempt (+25% jitter, at most 60 s) unless the answer carries Retry-After. Status faults send
    `Retry-After: 0` by default so a test does not wait; pass `retry_after_s=None` to see the real
    backoff (the real server sends no Retry-After on a 500)."""

    kind: FaultKind = "status"
    status: int = 500
    operation: str | None = None  # a GraphQL operation name, "file", or None for any request
    times: int | None = 1
    hang_s: float = 30.0
    retry_after_s: float | None = 0.0  # sent as Retry-After (None: no header)

    def matches(self, operation: str) -> bool:
        return self.operation is None or self.operation == operation


@dataclass
class RequestLog:
    method: str
    path: str
    operation: str
    status: int  # -1: the connection was dropped (a "timeout" or "reset" fault)
    variables: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0  # time.monotonic() when the answer went out


class _QuietServer(ThreadingHTTPServer):
    """A client that drops a keep-alive connection (a wandb-core process exiting) is no error."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class Backend:
    """A W&B-compatible server on 127.0.0.1 (random port), serving `world`. See the package docstring."""

    def __init__(self, world: World | None = None, *, handlers: dict[str, Any] | None = None,
                 verbose: bool = False) -> None:
        from tests.support.wandb_backend import (  # noqa: F401
            operations, operations_artifacts, operations_launch, operations_reports, operations_runlog, operations_artifact_log)

        HANDLERS = operations.HANDLERS  # each module registers its handlers on import

        self.world = world or World()
        self.handlers: dict[str, Any] = {**HANDLERS, **(handlers or {})}
        self.verbose = verbose
        self.counts: Counter[str] = Counter()
        self.requests: list[RequestLog] = []
        self.unknown: list[str] = []
        self.latency_s = 0.0
        self.op_latency_s: dict[str, float] = {}
        self.faults: list[Fault] = []
        self.files: dict[str, tuple[bytes, str]] = {}
        self.server_features: list[str] = []  # names answered as enabled by ServerFeaturesQuery
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Backend:
        self._thread = threading.Thread(target=self._server.serve_forever, name="wandb-backend", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Backend:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # test controls ---------------------------------------------------------------------------------
    def fail(self, status: int = 500, *, times: int | None = 1, operation: str | None = None,
             kind: FaultKind = "status", hang_s: float = 30.0, retry_after_s: float | None = 0.0) -> Fault:
        fault = Fault(kind=kind, status=status, operation=operation, times=times, hang_s=hang_s,
                      retry_after_s=retry_after_s)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def set_latency(self, seconds: float, operation: str | None = None) -> None:
        if operation is None:
            self.latency_s = seconds
        else:
            self.op_latency_s[operation] = seconds

    def count(self, operation: str | None = None) -> int:
        """Requests seen for one operation (GraphQL name, "file", "otel"), or all of them."""
        with self._lock:
            return self.counts[operation] if operation else sum(self.counts.values())

    def graphql_counts(self) -> dict[str, int]:
        """Requests per GraphQL operation (files, uploads, the file stream and telemetry left out)."""
        with self._lock:
            return {k: v for k, v in self.counts.items() if k not in NON_GRAPHQL}

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()
            self.requests.clear()

    def publish_file(self, name: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        """Serve `data` at a fresh URL (what a signed URL is on the real server); returns the URL."""
        token = uuid.uuid4().hex
        with self._lock:
            self.files[f"{token}/{name}"] = (data, content_type)
        return f"{self.url}/files/{token}/{name}"

    # internals -------------------------------------------------------------------------------------
    def _record(self, method: str, path: str, operation: str, status: int, variables: dict[str, Any]) -> None:
        with self._lock:
            self.counts[operation] += 1
            self.requests.append(RequestLog(method, path, operation, status, variables, time.monotonic()))
        if self.verbose:
            print(f"[wandb-backend] {method} {path} {operation} -> {status}", file=sys.stderr)

    def _take_fault(self, operation: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(operation) and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def _delay(self, operation: str) -> None:
        delay = self.op_latency_s.get(operation, self.latency_s)
        if delay > 0:
            self._closing.wait(delay)

    def _unknown(self, what: str) -> None:
        with self._lock:
            self.unknown.append(what)
        print(f"\n[wandb-backend] UNKNOWN {what!r}: not served (answered with an error)\n", file=sys.stderr,
              flush=True)

    def dispatch(self, req: GqlRequest) -> tuple[int, dict[str, Any]]:
        handler = self.handlers.get(req.operation)
        if handler is None:
            self._unknown(f"graphql {req.operation}: {' '.join(req.query.split())[:300]}")
            return 200, {"data": None, "errors": [{"message": f"test backend: unknown operation {req.operation}"}]}
        try:
            with self.world.lock:
                return 200, {"data": handler(self, req)}
        except GraphQLError as exc:
            return 200, {"data": None, "errors": [{"message": str(exc)}]}


def operation_name(body: dict[str, Any]) -> str:
    name = body.get("operationName")
    if isinstance(name, str) and name:
        return name
    match = _OP_RE.search(body.get("query") or "")
    return match.group(2) if match else "<anonymous>"


def _make_handler(backend: Backend) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: wandb-core's Go client reuses connections
        disable_nagle_algorithm = True  # TCP_NODELAY: without it each response costs ~40 ms more

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def _send(self, status: int, body: bytes, content_type: str = "application/json",
                  headers: dict[str, str] | None = None, head_only: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if not head_only:
                self.wfile.write(body)

        def _body(self) -> bytes:
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def _faulted(self, path: str, operation: str, variables: dict[str, Any]) -> bool:
            """Apply latency and the next matching fault. Every request is recorded before its answer
            goes out, so a count read right after the SDK returns is complete."""
            backend._delay(operation)
            fault = backend._take_fault(operation)
            if fault is None:
                return False
            backend._record(self.command, path, operation, fault.status if fault.kind == "status" else -1,
                            variables)
            if fault.kind == "timeout":
                backend._closing.wait(fault.hang_s)
            if fault.kind in {"timeout", "reset"}:
                self.close_connection = True
                return True
            headers = {"Retry-After": f"{fault.retry_after_s:g}"} if fault.retry_after_s is not None else {}
            self._send(fault.status, json.dumps({"errors": [{"message": f"injected {fault.status}"}]}).encode(),
                       headers=headers)
            return True

        def do_POST(self) -> None:  # noqa: N802
            path = urlsplit(self.path).path
            raw = self._body()
            if path.startswith("/sdk/otel/"):  # wandb-core's own telemetry: accept and ignore
                backend._record("POST", path, "otel", 200, {})
                self._send(200, b"", "application/x-protobuf")
                return
            if path != "/graphql":
                return self._route("POST", path, raw)
            body = json.loads(raw or b"{}")
            req = GqlRequest(operation_name(body), body.get("query") or "", body.get("variables") or {})
            if self._faulted(path, req.operation, req.variables):
                return
            status, payload = backend.dispatch(req)
            backend._record("POST", path, req.operation, status, req.variables)
            self._send(status, json.dumps(payload).encode())

        def _file(self, head_only: bool) -> None:
            path = urlsplit(self.path).path
            key = unquote(path[len("/files/"):]) if path.startswith("/files/") else None
            entry = backend.files.get(key) if key else None
            if entry is None:
                return self._not_found(self.command, path)
            if self._faulted(path, "file", {}):
                return
            data, ctype = entry
            status, headers, chunk = 200, {"Accept-Ranges": "bytes"}, data
            rng = self.headers.get("Range")
            if rng:  # bytes=a-b | bytes=a- | bytes=-n (one range; wandb-core's parquet reader sends one)
                m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
                if not m or (not m.group(1) and not m.group(2)):
                    self._send(416, b"", headers={"Content-Range": f"bytes */{len(data)}"})
                    return
                if m.group(1):
                    start = int(m.group(1))
                    end = min(int(m.group(2)), len(data) - 1) if m.group(2) else len(data) - 1
                else:
                    start, end = max(len(data) - int(m.group(2)), 0), len(data) - 1
                if start >= len(data) or start > end:
                    self._send(416, b"", headers={"Content-Range": f"bytes */{len(data)}"})
                    return
                status, chunk = 206, data[start:end + 1]
                headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            backend._record(self.command, path, "file", status, {"range": rng} if rng else {})
            self._send(status, chunk, ctype, headers, head_only=head_only)

        def do_GET(self) -> None:  # noqa: N802
            self._file(head_only=False)

        def do_HEAD(self) -> None:  # noqa: N802
            self._file(head_only=True)

        def do_PUT(self) -> None:  # noqa: N802
            self._route("PUT", urlsplit(self.path).path, self._body())

        def _route(self, method: str, path: str, raw: bytes) -> None:
            for m, pattern, operation, handler in ROUTES:
                match = pattern.fullmatch(path) if m == method else None
                if match is None:
                    continue
                if self._faulted(path, operation, {}):
                    return
                with backend.world.lock:
                    status, answer = handler(backend, match, raw)
                backend._record(method, path, operation, status, {})
                self._send(status, json.dumps(answer).encode())
                return
            self._not_found(method, path)

        def _not_found(self, method: str, path: str) -> None:
            backend._unknown(f"{method} {path}")
            backend._record(method, path, "unknown", 404, {})
            self._send(404, json.dumps({"error": f"test backend: nothing at {method} {path}"}).encode())

    return Handler


def wait_for(predicate: Any, timeout_s: float = 10.0, every_s: float = 0.02) -> bool:
    """Poll `predicate()` until it is true or `timeout_s` passes (for asynchronous SDK side effects)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every_s)
    return bool(predicate())
