"""`evaluate --baselines llm-candidates` runs `recommend --candidates 3` with each LLM (issue 13): the LLM
is asked for 3 configs, the fold's meta-learner picks among them, and the result records whether the
code check rejected the LLM's explanation (summed up as the summary's rejection rate). Run through the
CLI in lookup mode on the small real NAS-Bench-201 table, with a scripted loopback LLM."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.evaluate.test_pipeline import env  # noqa: F401 - the offline W&B + KB environment
from tests.support.fake_llm import FakeLLMServer, Reply, completion
from tests.support.hpo_bench import Nb201Kb, evaluate_with_llm, nb201_kb  # noqa: F401

FIXED = {"Op3": "nor_conv_3x3", "Op4": "nor_conv_3x3", "Op5": "skip_connect"}
BAD = {"Op0": "avg_pool_3x3", "Op1": "none", "Op2": "none"}
GOOD = {"Op0": "nor_conv_3x3", "Op1": "skip_connect", "Op2": "nor_conv_3x3"}
OTHER = {"Op0": "skip_connect", "Op1": "nor_conv_3x3", "Op2": "avg_pool_3x3"}


def _schema_name(req: dict[str, Any]) -> str | None:
    return ((req.get("response_format") or {}).get("json_schema") or {}).get("name")


def scripted(req: dict[str, Any]) -> Reply:
    """Inside the confidence set: its first candidate. Asked for configs: the bad one first, then two
    others, with a junk explanation the code check must reject."""
    if _schema_name(req) == "choice":
        return Reply(200, completion(json.dumps({"candidate": 1, "config": None, "explanation": "The first."})))
    return Reply(200, completion(json.dumps({"configs": [BAD, GOOD, OTHER], "explanation": "} {"})))


def test_llm_candidates_asks_for_three_and_the_meta_learner_picks(env: Nb201Kb, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "eval.json"
    with FakeLLMServer([scripted]) as server:
        code, output = evaluate_with_llm(env, out, server.base_url, "fake", "llm-candidates,meta-learner")
        requests = list(server.requests)
    assert code == 0, output
    asked = [r for r in requests if _schema_name(r) != "choice" and r.get("response_format")]
    proposals = [r["response_format"]["json_schema"]["schema"]["properties"]["configs"]["maxItems"] for r in asked]
    assert proposals == [3, 3, 3]  # one ask per hidden dataset, for 3 configs; the choices are llm:fake's
    assert len([r for r in requests if _schema_name(r) == "choice"]) == 3

    report = json.loads(out.read_text())
    rows = [r for r in report["results"] if r["method"] == "llm-candidates:fake"]
    meta = {r["dataset"]: r for r in report["results"] if r["method"] == "meta-learner"}
    assert len(rows) == 3 and all(r["ok"] for r in rows)
    offered = [{**c, **FIXED} for c in (GOOD, OTHER)]
    for r in rows:  # never the LLM's first (bad) one: the meta-learner's pick among the three when it is tied
        # with the meta-learner's own best, else its own best (the proposals overruled)
        assert (r["source"] == "llm" and r["config"] in offered) or \
            (r["source"] == "meta-learner-fallback" and r["config"] == meta[r["dataset"]]["config"]), r
        assert r["percentile"] >= meta[r["dataset"]]["percentile"] or r["source"] == "llm"
    assert all(r["explanation_checked"] and r["explanation_rejected"] for r in rows if r["source"] == "llm")
    summary = {s["method"]: s for s in report["summary"]}
    assert summary["llm-candidates:fake"]["rejection_rate"] == 1.0


WORSE = [{"Op0": "avg_pool_3x3", "Op1": "none", "Op2": "none"}, {"Op0": "none", "Op1": "none", "Op2": "none"},
         {"Op0": "none", "Op1": "avg_pool_3x3", "Op2": "none"}]


def test_poor_proposals_are_overruled_by_the_meta_learners_best(env: Nb201Kb, tmp_path: Path) -> None:  # noqa: F811
    """A model that proposes only poor configs cannot pull `--candidates 3` below the meta-learner: its
    proposals are overruled (they are not tied with the meta-learner's own best) and the output says so."""
    out = tmp_path / "eval.json"
    with FakeLLMServer([lambda req: Reply(200, completion(json.dumps({"configs": WORSE, "explanation": "x"})))]) \
            as server:
        code, output = evaluate_with_llm(env, out, server.base_url, "fake", "llm-candidates,meta-learner")
    assert code == 0, output
    report = json.loads(out.read_text())
    meta = {r["dataset"]: r for r in report["results"] if r["method"] == "meta-learner"}
    rows = [r for r in report["results"] if r["method"] == "llm-candidates:fake"]
    assert len(rows) == 3
    for r in rows:
        assert r["source"] == "meta-learner-fallback" and r["config"] == meta[r["dataset"]]["config"], r
        assert r["percentile"] == meta[r["dataset"]]["percentile"]
