"""`recommend` with the real local LLM (SmolLM2-135M on llama-cpp-python, 127.0.0.1), end to end:
retrieval, prompt, schema-constrained answer, validation, judge, W&B run. A 135M model reasons
poorly; what must hold is the plumbing and the guarantee that only in-space configs come out."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from metallmix_wandb.knowledge.runs_offline import find_run_dirs, parse_run_dir
from metallmix_wandb.cli import main
from tests.support.llm import local_llm  # noqa: F401
from tests.support.recommend_kb import kb, offline_explain_project  # noqa: F401
from tests.support.synthetic import EXPLAIN_PROJECT
from tests.support.wandb_runs import wait_for_exit_record


@pytest.mark.slow
def test_recommend_with_the_real_local_model(kb: dict, local_llm) -> None:  # noqa: F811
    args = ["recommend", "--project", EXPLAIN_PROJECT, "--meta-features", str(kb["mf"]), "--json",
            "--base-url", local_llm.base_url, "--model", local_llm.alias, "-k", "4", "--judge-repeats", "1",
            "--fallback", "meta-learner"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rec = json.loads(result.stdout)["recommendation"]
    assert kb["space"].without("dataset").validate_config(rec["config"]).ok
    assert rec["llm_model"] == local_llm.alias and rec["tokens"]["prompt"] > 0
    assert rec["timings"]["llm_s"] > 0 and len(rec["evidence"]) == 4
    if rec["source"] == "llm":  # the model answered in the space: it was judged, with scores in 0-4
        assert rec["judge_scores"] and all(0 <= v <= 4 for v in rec["judge_scores"].values() if v is not None)
    else:
        assert rec["source"] == "meta-learner-fallback" and rec["warnings"]
    (run_dir,) = find_run_dirs(kb["runs"])
    wait_for_exit_record(run_dir)
    run = parse_run_dir(run_dir)
    assert run.config["recommended"] == rec["config"] and run.config["llm_model"] == local_llm.alias
