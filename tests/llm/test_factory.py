"""The one way a command gets an LLM: the settings' endpoint, or the embedded server for a `with` block."""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType

import pytest

from metallmix_wandb.llm import server as llm_server
from metallmix_wandb.llm.factory import EMBEDDED_CONTEXT, EMBEDDED_TIMEOUT_S, open_endpoint
from metallmix_wandb.secrets import MASK
from metallmix_wandb.settings import Settings
from tests.support.fake_llm import FakeLLMServer, reply
from tests.support.llm_data import answer

KEY = "sk-test-SECRET-1234567890"


def test_the_settings_endpoint_builds_clients_by_model_and_carries_the_key() -> None:
    with FakeLLMServer([reply(answer())]) as server:
        settings = Settings(llm_base_url=server.base_url, llm_model="m", llm_api_key=KEY)
        notices: list[str] = []
        with open_endpoint(settings, lambda: notices.append("embedded")) as endpoint:
            assert not endpoint.embedded and endpoint.default_model == "m" and notices == []
            client, judge = endpoint.client(), endpoint.client("judge")
            assert client.model == "m" and judge.model == "judge" and judge.base_url == server.base_url
            assert KEY not in repr(judge) and KEY not in repr(endpoint) and KEY not in repr(settings)
            judge.chat_json([{"role": "user", "content": "hi"}], {"type": "object"})
    assert server.headers[0]["authorization"] == f"Bearer {KEY}" and server.requests[0]["model"] == "judge"


def test_no_model_is_the_servers_default() -> None:
    with open_endpoint(Settings(llm_base_url="http://127.0.0.1:1/v1", llm_model=None)) as endpoint:
        assert endpoint.default_model == "default" and endpoint.client().model == "default"


class _Server:
    """Stands in for LocalLLMServer: records how it was started and whether it was stopped."""

    started: list[int] = []
    stopped: list[bool] = []

    def __init__(self, *, n_ctx: int) -> None:
        self.started.append(n_ctx)
        self.base_url, self.alias = "http://127.0.0.1:9999/v1", "smollm2-135m"

    def __enter__(self) -> _Server:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stopped.append(True)


@pytest.fixture
def fake_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Server]]:
    _Server.started, _Server.stopped = [], []
    monkeypatch.setattr(llm_server, "LocalLLMServer", _Server)
    yield _Server


def test_without_a_base_url_the_embedded_server_runs_for_the_block(fake_server: type[_Server]) -> None:
    notices: list[str] = []
    with open_endpoint(Settings(llm_base_url=None, llm_model="ignored"), lambda: notices.append("x")) as endpoint:
        assert notices == ["x"] and fake_server.started == [EMBEDDED_CONTEXT] and not fake_server.stopped
        assert endpoint.embedded and endpoint.default_model == "smollm2-135m"
        assert endpoint.client().base_url == "http://127.0.0.1:9999/v1" and endpoint.api_key is None
        assert endpoint.client().timeout_s == EMBEDDED_TIMEOUT_S  # the demo model shares this machine's CPU
        assert endpoint.client().mode == endpoint.client("judge").mode == "json_object"  # no request wasted
    assert fake_server.stopped == [True]
    with open_endpoint(Settings(llm_base_url=None, llm_timeout_s=5)) as endpoint:
        assert endpoint.client().timeout_s == 5


def test_the_settings_deadline_and_every_configured_secret_reach_the_clients() -> None:
    qdrant_key = "qdrant-SECRET-0987654321"
    echo = answer(explanation=f"I was told {KEY} and {qdrant_key}.")
    with FakeLLMServer([reply(echo)]) as server:
        settings = Settings(llm_base_url=server.base_url, llm_model="m", llm_api_key=KEY,
                            qdrant_api_key=qdrant_key, llm_timeout_s=7)
        with open_endpoint(settings) as endpoint:
            client = endpoint.client("judge")
            result = client.chat_json([{"role": "user", "content": "hi"}], {"type": "object"})
    assert client.timeout_s == 7
    with open_endpoint(Settings(llm_base_url=server.base_url)) as endpoint:
        assert endpoint.client().timeout_s == 300  # the client's default, for a 4-8B model on a CPU
        assert endpoint.client().mode == "json_schema"  # an unknown server: the standard form first
    assert KEY not in result.text and qdrant_key not in result.text and result.text.count(MASK) == 2
    assert qdrant_key not in repr(endpoint)


def test_the_embedded_server_loads_while_the_command_starts_and_is_stopped_on_any_exit() -> None:
    """`recommend` launches the embedded server before it reads the meta-learner (issue 13 item 4: ~1 s of
    its start-up overlapped); `open_endpoint` waits for that same server; an exit in between (a `fail`)
    stops it too. The real server: a stand-in could not show that the process runs before it is ready."""
    import os

    from metallmix_wandb.llm.factory import launch_embedded
    from tests.support.llm import require_local_llm

    require_local_llm()
    with launch_embedded(Settings(llm_base_url="http://127.0.0.1:1/v1")) as none, \
            launch_embedded(Settings(llm_base_url=None), wanted=False) as unwanted:
        assert none is None and unwanted is None
    with launch_embedded(Settings(llm_base_url=None)) as launched:
        assert launched is not None and launched.process is not None and launched.startup_s is None
        pid = launched.pid
        with open_endpoint(Settings(llm_base_url=None), launched=launched) as endpoint:
            assert endpoint.server is launched and launched.pid == pid and launched.startup_s is not None
            assert llm_server.probe(endpoint.base_url) == [launched.alias]
    assert launched.process is None
    with pytest.raises(SystemExit), launch_embedded(Settings(llm_base_url=None)) as early:
        pid = early.pid
        raise SystemExit(2)  # what `fail` raises before the endpoint is opened
    assert early.process is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
