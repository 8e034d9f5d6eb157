"""The one way a command gets an LLM: the endpoint the settings name (base URL + key), or the embedded
demo server started for the duration of a `with` block. Commands ask the endpoint for clients by model
name; the key travels from the settings to the client and nowhere else.

Tested through the commands that use it (tests/cli/test_recommend_cli.py, tests/cli/test_tune_cli.py,
tests/evaluate/test_pipeline.py) and tests/llm/test_factory.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import SecretStr

    from metallmix_wandb.llm.client import LLMClient
    from metallmix_wandb.llm.server import LocalLLMServer
    from metallmix_wandb.settings import Settings

EMBEDDED_CONTEXT = 8192
"""The embedded server's context: a meta-informed prompt with 8 experiments and the SHAP digest is ~3.5k tokens."""

EMBEDDED_TIMEOUT_S = 600.0
"""The embedded model's default deadline per call: it runs on whatever CPU this is, shared with the
command itself (on a busy 2-core machine a meta-informed answer took over 300 s)."""

EMBEDDED_NOTICE = (
    "[yellow]No --base-url: starting the embedded SmolLM2-135M demo model on 127.0.0.1. It is a tiny "
    "model that proves the plumbing; point --base-url at Ollama / LM Studio with a 4-8B model for "
    "real advice.[/]"
)
"""What a command prints (rich markup, on stderr) before `open_endpoint` starts the embedded server."""


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible endpoint that is up: build clients on it by model name."""

    base_url: str
    default_model: str
    embedded: bool
    api_key: SecretStr | None = None
    server: LocalLLMServer | None = None
    timeout_s: float | None = None
    secrets: tuple[SecretStr | None, ...] = field(default=(), repr=False)
    first_mode: str | None = None

    def client(self, model: str | None = None) -> LLMClient:
        """A client for `model` (default: the endpoint's), with the settings' deadline, every configured
        secret to mask in what the server sends back, and the response mode a known server takes
        (`first_mode`: the embedded one's; None: any server, the standard form first)."""
        from metallmix_wandb.llm.client import DEFAULT_TIMEOUT_S, LLMClient

        return LLMClient(self.base_url, model or self.default_model, self.api_key,
                         timeout_s=self.timeout_s or DEFAULT_TIMEOUT_S, secrets=self.secrets,
                         first_mode=self.first_mode)


@contextlib.contextmanager
def open_endpoint(settings: Settings, notice: Callable[[], None] = lambda: None,
                  launched: LocalLLMServer | None = None) -> Iterator[Endpoint]:
    """The settings' endpoint (`--base-url`, `--model`, `--api-key`), or, with no base URL, the embedded
    SmolLM2 demo server on 127.0.0.1 (`notice` is called first so the command can say so), stopped on exit.
    `launched`: that server, already loading (`launch_embedded`), so its start-up overlapped the caller's."""
    if settings.llm_base_url:
        yield Endpoint(settings.llm_base_url, settings.llm_model or "default", embedded=False,
                       api_key=settings.llm_api_key, timeout_s=settings.llm_timeout_s, secrets=settings.secrets)
        return
    from metallmix_wandb.llm.server import RESPONSE_MODE, LocalLLMServer

    notice()
    with launched or LocalLLMServer(n_ctx=EMBEDDED_CONTEXT) as server:
        yield Endpoint(server.base_url, server.alias, embedded=True, server=server,
                       timeout_s=settings.llm_timeout_s or EMBEDDED_TIMEOUT_S, secrets=settings.secrets,
                       first_mode=RESPONSE_MODE)


@contextlib.contextmanager
def launch_embedded(settings: Settings, wanted: bool = True) -> Iterator[LocalLLMServer | None]:
    """The embedded server's process started now, when the settings name no endpoint and `wanted`, so the
    model loads (~1 s on 2 cores) while the command loads its own parts; hand it to `open_endpoint`.
    None when not wanted or when it cannot start here (`open_endpoint` then says why, where it always
    has). Stopped on exit, whatever happened in between."""
    if settings.llm_base_url or not wanted:
        yield None
        return
    from metallmix_wandb.llm.server import LLMServerError, LocalLLMServer

    server = LocalLLMServer(n_ctx=EMBEDDED_CONTEXT)
    try:
        server.launch()
    except LLMServerError:
        yield None
        return
    try:
        yield server
    finally:
        server.stop()
