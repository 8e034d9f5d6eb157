"""`recommend` keeps its promises when parts around it fail (issue 16, item 6): a `--space` with
parameters the meta-learner never saw is refused by name, and a judge outage keeps the valid answer.
Real offline runs, real Qdrant, the real meta-learner, a scripted loopback LLM server."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from metallmix_wandb.cli import main
from tests.support.fake_llm import FakeLLMServer, fail, llama_cpp_like
from tests.support.recommend_kb import kb, logged_runs, offline_explain_project  # noqa: F401
from tests.support.synthetic import EXPLAIN_PROJECT


def _recommend(kb: dict, *extra: str) -> tuple[int, str, dict | None]:
    args = ["recommend", "--project", EXPLAIN_PROJECT, "--meta-features", str(kb["mf"]), "--json", *extra]
    result = CliRunner().invoke(main, args)
    try:
        return result.exit_code, result.output, json.loads(result.stdout)
    except ValueError:
        return result.exit_code, result.output, None



def test_a_space_with_parameters_the_meta_learner_never_saw_is_refused(kb: dict, tmp_path: Path) -> None:
    sweep = kb["space"].to_sweep_config()
    sweep["parameters"]["warmup_steps"] = {"min": 0, "max": 100}
    sweep["parameters"]["label_smoothing"] = {"values": [0.0, 0.1]}
    path = tmp_path / "wider.yaml"
    path.write_text(yaml.safe_dump(sweep))
    code, out, data = _recommend(kb, "--no-llm", "--space", str(path))
    assert code == 2 and data is None, out
    line = " ".join(out.split())
    assert "never saw" in line and "warmup_steps" in line and "label_smoothing" in line
    assert logged_runs(kb) == []


def test_the_stored_space_itself_is_accepted(kb: dict, tmp_path: Path) -> None:
    path = tmp_path / "same.yaml"
    path.write_text(yaml.safe_dump(kb["space"].to_sweep_config()))
    code, out, _ = _recommend(kb, "--no-llm", "--space", str(path))
    assert code == 0, out


def test_a_judge_outage_keeps_the_valid_answer_and_marks_the_scores_missing(kb: dict) -> None:
    strong = {"base_model": "resnet50", "fine_tuning": "full", "learning_rate": 0.001, "batch_size": 16,
              "dropout": 0.4}
    answer = json.dumps({"configs": [strong], "explanation": "resnet50 with full fine-tuning"})
    script = [llama_cpp_like(answer), llama_cpp_like(answer), fail(500, "judge is down")]
    with FakeLLMServer(script) as server:
        code, out, data = _recommend(kb, "--base-url", server.base_url, "--model", "fake",
                                     "--candidates", "1", "--judge-repeats", "1")
        assert len(server.requests) > 2  # the judge was asked, and failed
    assert code == 0, out
    rec = data["recommendation"]
    assert rec["source"] == "llm" and rec["config"]["learning_rate"] == 0.001
    assert rec["judge_scores"] == {} and "judge is down" in rec["judge_error"]
    assert any("judge" in w and "unavailable" in w for w in rec["warnings"])
    (run,) = logged_runs(kb)
    assert run.config["recommended"] == rec["config"] and "judge is down" in run.summary["judge_error"]
