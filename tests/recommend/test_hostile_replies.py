"""`recommend` against a hostile LLM server (issue 16): the real openai client over HTTP to a loopback
server on 127.0.0.1 that sends the reply shapes real servers send, hangs, drips, or sends terminal
escapes, with a small real knowledge base. Each ends as an answer or one clear error line (exit 2),
never a traceback, and `--fallback meta-learner` always gives an answer."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from metallmix_wandb.cli import main
from metallmix_wandb.recommend.explain_text import EXPLAIN_REQUEST
from metallmix_wandb.recommend.record import MAX_STORED_REPLY
from tests.support.data_block import split_data_block, table_rows
from tests.support.fake_llm import FakeLLMServer, Reply, Step, completion, drip, hang, raw
from tests.support.recommend_kb import MF
from tests.support.synthetic import EXPLAIN_PROJECT, OfflineExplainProject, offline_explain_project  # noqa: F401
from tests.support.wandb_runs import offline_env

PICK = json.dumps({"candidate": 1, "config": None, "explanation": "The first candidate's SHAP reasons fit."})


@pytest.fixture(scope="module")
def hostile_kb(offline_explain_project: OfflineExplainProject,  # noqa: F811
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One synced + explained project for the whole module (recommend runs with --no-log); the new
    dataset's meta-features file."""
    root = tmp_path_factory.mktemp("hostile")
    with pytest.MonkeyPatch.context() as mp:
        offline_env(root / "runs", mp)
        mp.setenv("METALLMIX_CACHE_DIR", str(root / "cache"))
        mp.setenv("METALLMIX_QDRANT_PATH", str(root / "qdrant"))
        for var in ("METALLMIX_LLM_BASE_URL", "METALLMIX_LLM_TIMEOUT", "METALLMIX_LLM_API_KEY", "OPENAI_API_KEY"):
            mp.delenv(var, raising=False)
        space = str(offline_explain_project.space_path)
        synced = CliRunner().invoke(main, ["sync", "--project", EXPLAIN_PROJECT, "--offline-dir",
                                           str(offline_explain_project.wandb_dir), "--space", space, "--no-explain"])
        assert synced.exit_code == 0, synced.output
        explained = CliRunner().invoke(main, ["explain", "--project", EXPLAIN_PROJECT, "--space", space, "--no-wandb"])
        assert explained.exit_code == 0, explained.output
        mf = root / "mf.json"
        mf.write_text(json.dumps(MF))
        yield mf


def _recommend(mf: Path, server: FakeLLMServer, *extra: str) -> Result:
    return CliRunner().invoke(main, ["recommend", "--project", EXPLAIN_PROJECT, "--meta-features", str(mf),
                                     "--base-url", server.base_url, "--model", "fake", "--no-judge", "--no-log",
                                     "--max-repairs", "1", *extra])


def _no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def _one_error_line(result: Result) -> str:
    """The command failed with exit 2 and one `error:` line, which is returned."""
    _no_traceback(result)
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    return lines[0]


def _shaped(change: Callable[[dict[str, Any]], None]) -> Step:
    body = completion(PICK)
    change(body)
    return lambda _req: Reply(200, body)


def _message(body: dict[str, Any]) -> dict[str, Any]:
    return body["choices"][0]["message"]


SHAPES: dict[str, Step] = {
    "content-parts": _shaped(lambda b: _message(b).update(
        content=[{"type": "text", "text": PICK[:20]}, {"type": "text", "text": PICK[20:]}])),
    "content-number": _shaped(lambda b: _message(b).update(content=42)),
    "content-object": _shaped(lambda b: _message(b).update(content=json.loads(PICK))),
    "model-number": _shaped(lambda b: b.update(model=123)),
    "finish-reason-number": _shaped(lambda b: b["choices"][0].update(finish_reason=5)),
    "usage-not-a-number": _shaped(lambda b: b["usage"].update(prompt_tokens="many")),
    "not-json-body": raw(200, "<html><body>502 Bad Gateway</body></html>"),
}
"""The seven reply shapes that crashed `recommend` with a traceback before (issue 16, item 1)."""

ANSWERED = {"content-parts", "content-object", "model-number", "finish-reason-number", "usage-not-a-number"}
"""Shapes whose message holds the pick: the LLM's answer stands."""


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_reply_shape_answers_or_fails_clearly_and_the_fallback_answers(hostile_kb: Path, shape: str) -> None:
    with FakeLLMServer([SHAPES[shape]]) as server:
        plain = _recommend(hostile_kb, server, "--json")
        fallback = _recommend(hostile_kb, server, "--json", "--fallback", "meta-learner")
    for result in (plain, fallback):
        _no_traceback(result)
    if shape == "not-json-body":
        line = _one_error_line(plain)
        assert "not JSON" in line and "'<html><body>502 Bad Gateway" in line and "Nothing was logged" in line
    else:
        assert plain.exit_code == 0, plain.output
        rec = json.loads(plain.stdout)["recommendation"]
        assert rec["choice_set"]["pick"] == (1 if shape in ANSWERED else None), rec["choice_set"]
    assert fallback.exit_code == 0, fallback.output
    rec = json.loads(fallback.stdout)["recommendation"]
    assert rec["config"] and rec["source"] in ({"llm"} if shape in ANSWERED else {"llm", "meta-learner-fallback"})
    if shape == "not-json-body":
        assert rec["source"] == "meta-learner-fallback" and any("not JSON" in w for w in rec["warnings"])


@pytest.mark.parametrize("step", [hang(60), drip(PICK, 0.25)], ids=["answers-too-late", "drips-a-byte-at-a-time"])
def test_one_deadline_ends_a_slow_call_as_a_clear_error(hostile_kb: Path, step: Step) -> None:
    with FakeLLMServer([step]) as server:
        plain = _recommend(hostile_kb, server, "--llm-timeout", "2")
        fallback = _recommend(hostile_kb, server, "--llm-timeout", "2", "--fallback", "meta-learner", "--json")
        sent = len(server.requests)
    line = _one_error_line(plain)
    assert "no answer within 2 s" in line and "after 1 tries" in line
    assert fallback.exit_code == 0, fallback.output
    rec = json.loads(fallback.stdout)["recommendation"]
    assert rec["source"] == "meta-learner-fallback" and any("no answer within 2 s" in w for w in rec["warnings"])
    assert sent == 2  # one request per command: the wait used the deadline, no retry outlived it


ESCAPES = "\x1b[2J\x1b]0;owned\x07\u202e"


def _explains_with_escapes(req: dict[str, Any]) -> Reply:
    """Picks candidate 1 with an explanation that passes the code check and carries terminal escapes."""
    _, data = split_data_block(req["messages"][1]["content"])
    first = table_rows(data["candidates"])[0]
    said = ", ".join(f"{k} {v}" for k, v in first.items() if k not in ("id", "percentile", "low", "high",
                                                                         "train_time_s"))
    explanation = (f"The first candidate uses {said}. {ESCAPES}Its predicted percentile is the best here, and "
                   "the nearby datasets show that this choice works well for scans like these ones.")
    if req["messages"][-1]["content"] == EXPLAIN_REQUEST:  # the second, plain-text call
        return Reply(200, completion(explanation))
    return Reply(200, completion(json.dumps({"candidate": 1, "config": None, "explanation": explanation})))


def test_terminal_escapes_from_the_llm_never_reach_the_terminal(hostile_kb: Path) -> None:
    with FakeLLMServer([_explains_with_escapes]) as server:
        shown = _recommend(hostile_kb, server)
        as_json = _recommend(hostile_kb, server, "--json")
    assert as_json.exit_code == 0, as_json.output[-3000:]
    rec = json.loads(as_json.stdout)["recommendation"]
    assert ESCAPES in rec["llm_explanation"] and rec["explanation_rejected"] is None  # stored as written
    words = " ".join(w for w in shown.output.split() if w != "│")  # the panel's border
    assert shown.exit_code == 0 and "Its predicted percentile is the best here" in words
    assert not any(c in shown.output for c in ("\x1b", "\u202e", "\x07", "owned"))
    assert not any(c in as_json.output for c in ("\x1b", "\u202e", "\x07"))  # JSON escapes them: \\u001b


def test_a_huge_reply_is_read_but_stored_capped(hostile_kb: Path) -> None:
    huge = PICK + "\n" + "padding " * 130_000  # ~1 MB after the answer
    with FakeLLMServer([lambda _req: Reply(200, completion(huge))]) as server:
        result = _recommend(hostile_kb, server, "--json")
    assert result.exit_code == 0, result.output[-2000:]
    rec = json.loads(result.stdout)["recommendation"]
    assert rec["choice_set"]["pick"] == 1
    assert len(rec["raw_reply"]) < MAX_STORED_REPLY + 100 and rec["raw_reply"].startswith(PICK)
    assert f"more characters of {len(huge)}" in rec["raw_reply"] and len(result.stdout) < 100_000
