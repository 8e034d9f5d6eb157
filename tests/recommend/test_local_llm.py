"""`recommend` with the real local LLM (SmolLM2-135M on llama-cpp-python, 127.0.0.1), end to end:
retrieval, prompt, schema-constrained answer, validation, judge, W&B run. A 135M model reasons
poorly; what must hold is the plumbing and the guarantee that only in-space configs come out."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from metallmix_wandb.knowledge.runs_offline import find_run_dirs, parse_run_dir
from metallmix_wandb.cli import main
from metallmix_wandb.knowledge.meta_learner.artifact import load_knowledge
from metallmix_wandb.recommend.candidates import TIE
from metallmix_wandb.recommend.explanation_check import check_explanation
from metallmix_wandb.settings import load_settings
from tests.support.llm import local_llm  # noqa: F401
from tests.support.recommend_kb import kb, offline_explain_project  # noqa: F401
from tests.support.synthetic import EXPLAIN_PROJECT
from tests.support.wandb_runs import wait_for_exit_record


@pytest.mark.slow
def test_recommend_with_the_real_local_model(kb: dict, local_llm) -> None:  # noqa: F811
    """What recommend promises whatever a weak model answers: the config is in the space and not below the
    confidence set's guarantee; the explanation shown passes the checks or is the marked fallback; the
    LLM's (and the judge's) timings and tokens are recorded."""
    args = ["recommend", "--project", EXPLAIN_PROJECT, "--meta-features", str(kb["mf"]), "--json",
            "--base-url", local_llm.base_url, "--model", local_llm.alias, "-k", "4", "--judge-repeats", "1",
            "--fallback", "meta-learner"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rec = json.loads(result.stdout)["recommendation"]
    assert kb["space"].without("dataset").validate_config(rec["config"]).ok
    assert rec["llm_model"] == local_llm.alias and len(rec["evidence"]) == 4

    # The confidence set (meta-informed default): never below the best candidate by more than a tie.
    offered = rec["choice_set"]["offered"]
    best = offered[0]["scored"]
    assert rec["predicted"]["score"] >= best["score"] - TIE
    if rec["source"] != "llm":  # no usable pick, or overruled: the meta-learner's best stands
        assert rec["config"] == kb["space"].without("dataset").validate_config(best["config"]).config
        assert rec["warnings"] and rec["llm_explanation"] is None

    # The explanation shown: the LLM's own only when it passes the checks, else the marked fallback.
    knowledge = load_knowledge(EXPLAIN_PROJECT, load_settings(project=EXPLAIN_PROJECT).cache_dir)
    key = [f.feature for f in knowledge.summary.features if f.source == "param"]
    sources = [rec["evidence"], knowledge.digest, rec["predicted"], rec["meta_features"]]
    if rec["source"] == "llm" and rec["explanation_rejected"] is None:
        assert rec["explanation"] == rec["llm_explanation"]
        verdict = check_explanation(rec["explanation"], rec["config"], key_params=key, sources=sources)
        assert verdict.ok, verdict.reasons
    elif rec["source"] == "llm":
        assert rec["explanation"].startswith(f"LLM explanation rejected: {rec['explanation_rejected']}.")
        assert "The meta-learner's best configuration" in rec["explanation"]
    else:
        assert "The meta-learner's best configuration" in rec["explanation"]

    # Timings and tokens: the LLM was asked, so its time and both token counts are there (and the judge's
    # when its answer was judged).
    assert rec["tokens"]["prompt"] > 0 and rec["tokens"]["completion"] > 0
    assert 0 < rec["timings"]["llm_s"] <= rec["timings"]["total_s"] and rec["timings"]["retrieval_s"] > 0
    if rec["source"] == "llm":
        assert rec["timings"]["judge_s"] > 0 and rec["tokens"]["judge"] > 0 and rec["judge_model"]
        assert rec["judge_scores"] and all(0 <= v <= 4 for v in rec["judge_scores"].values() if v is not None)
    (run_dir,) = find_run_dirs(kb["runs"])
    wait_for_exit_record(run_dir)
    run = parse_run_dir(run_dir)
    assert run.config["recommended"] == rec["config"] and run.config["llm_model"] == local_llm.alias


@pytest.mark.slow
def test_recommend_with_the_embedded_model_reads_the_short_prompt(kb: dict) -> None:  # noqa: F811
    """No --base-url: the embedded server, with its request (recommend/pipeline.py for_embedded_model): 4
    candidates and 5 experiments, an answer that writes no config after an offered id, one judge call;
    the confidence-set guarantee and the judge's scores as with any model."""
    from tests.support.llm import require_local_llm

    require_local_llm()
    args = ["recommend", "--project", EXPLAIN_PROJECT, "--meta-features", str(kb["mf"]), "--json", "--no-log",
            "--fallback", "meta-learner"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rec = json.loads(result.stdout)["recommendation"]
    assert len(rec["choice_set"]["offered"]) == 4 and len(rec["evidence"]) == 5
    assert rec["predicted"]["score"] >= rec["choice_set"]["offered"][0]["scored"]["score"] - TIE
    reply = json.loads(rec["raw_reply"])
    assert reply["candidate"] == 0 or reply["config"] is None
    if rec["source"] == "llm":
        assert rec["judge_scores"] and rec["tokens"]["judge"] > 0
        assert rec["timings"]["judge_s"] > 0 and rec["timings"]["generated"] > 0
