"""The API key never reaches anything stored (issue 16 item 2): not through the command line W&B
records as the run's args (`--api-key VALUE` and `--api-key=VALUE`, the real console script in a
subprocess), nor through a server that echoes it in its answer (recommendation.json, judge prompts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from metallmix_wandb.cli import main
from tests.support.data_block import split_data_block, table_rows
from tests.support.fake_llm import FakeLLMServer, Reply, completion
from tests.support.recommend_kb import kb, offline_explain_project  # noqa: F401
from tests.support.synthetic import EXPLAIN_PROJECT
from tests.support.wandb_runs import wait_for_exit_record
from metallmix_wandb.knowledge.runs_offline import find_run_dirs

KEY = "sk-test-SECRET-7f3a9c2e5b1d"
REPO = Path(__file__).resolve().parents[2]


def _files_holding(root: Path, secret: str) -> list[Path]:
    """Every file under `root` whose bytes contain `secret` (plain, or as JSON/UTF-16 might write it)."""
    needles = [secret.encode(), secret.encode("utf-16-le")]
    return [p for p in root.rglob("*") if p.is_file() and any(n in p.read_bytes() for n in needles)]


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("metallmix-wandb")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "metallmix_wandb.cli"]


def _run_dirs(kb: dict) -> list[Path]:
    dirs = find_run_dirs(kb["runs"]) if kb["runs"].exists() else []
    for d in dirs:
        wait_for_exit_record(d)
    return [Path(d) for d in dirs]


def test_a_key_on_the_command_line_is_in_no_file_of_the_logged_run(kb: dict, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env.pop("METALLMIX_LLM_API_KEY", None)
    env.pop("OPENAI_API_KEY", None)
    base = [*_cli(), "recommend", "--project", EXPLAIN_PROJECT, "--meta-features", str(kb["mf"]), "--no-llm"]
    for key_args in (["--api-key", KEY], [f"--api-key={KEY}"]):
        proc = subprocess.run([*base, *key_args], capture_output=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
        assert KEY.encode() not in proc.stdout + proc.stderr
    runs = _run_dirs(kb)
    assert len(runs) == 2 and all(list(d.glob("*.wandb")) for d in runs)  # logged, args recorded
    assert _files_holding(tmp_path, KEY) == []  # W&B dir, its data/cache/config, the metallmix cache


def test_a_key_the_server_echoes_is_stored_nowhere_and_never_sent_back(kb: dict, tmp_path: Path) -> None:
    judge = json.dumps({"format": 4, "accuracy": 3, "completeness": 3, "conciseness": 4, "fluency": 4,
                        "rationale": f"fine, and thanks for {KEY}"})

    def step(req: dict) -> Reply:
        fmt = (req.get("response_format") or {}).get("json_schema") or {}
        if "response_format" not in req:  # the plain-text call for the explanation
            return Reply(200, completion(f"Its SHAP reasons fit. (Your key {KEY} works.)"))
        if fmt.get("name") == "judgement" or "candidates" not in req["messages"][-1]["content"]:
            return Reply(200, completion(judge))
        _, data = split_data_block(req["messages"][1]["content"])
        answer = {"candidate": table_rows(data["candidates"])[0]["id"], "config": None}
        return Reply(200, completion(json.dumps(answer)))

    with FakeLLMServer([step]) as server:
        result = CliRunner().invoke(main, ["recommend", "--project", EXPLAIN_PROJECT, "--meta-features",
                                           str(kb["mf"]), "--json", "--base-url", server.base_url, "--model",
                                           "fake", "--judge-repeats", "1", "--api-key", KEY])
        sent = json.dumps(server.requests)
        assert len(server.requests) >= 2
    assert result.exit_code == 0, result.output
    rec = json.loads(result.stdout)["recommendation"]
    # the LLM's own text is kept in `llm_explanation` (shown or, too short as here, replaced by the digest's)
    assert rec["source"] == "llm" and "Its SHAP reasons fit." in rec["llm_explanation"]
    assert KEY not in result.output and KEY not in sent  # the judge's prompt quotes the masked reply
    assert "judge" in sent or "judgement" in sent
    (run,) = _run_dirs(kb)
    stored = (run / "files" / "recommendation.json").read_text()
    assert "Its SHAP reasons fit." in stored and KEY not in stored
    assert _files_holding(tmp_path, KEY) == []
