"""`recommend` end to end on real offline runs, real Qdrant, the real meta-learner, and LLM endpoints
that answer well or badly (a scripted loopback server on 127.0.0.1; the real local model is in
test_recommend_local_llm.py). The rule under test: nothing outside the space is logged or enqueued."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from metallmix_wandb.cli import main
from metallmix_wandb.space.search_space import SearchSpace
from metallmix_wandb.recommend.advice import Advice, top_percent
from metallmix_wandb.recommend.candidates import TIE
from metallmix_wandb.recommend.record import Recommendation
from tests.support.data_block import split_data_block, table_rows
from tests.support.fake_llm import FakeLLMServer, Reply, completion, llama_cpp_like, reply
from tests.support.recommend_kb import kb, logged_runs, offline_explain_project  # noqa: F401
from tests.support.synthetic import EXPLAIN_PROJECT

def _recommend(kb: dict, *extra: str) -> tuple[int, str, dict | None]:
    result = CliRunner().invoke(main, ["recommend", "--project", EXPLAIN_PROJECT, "--meta-features", str(kb["mf"]),
                                       "--json", *extra])
    try:
        return result.exit_code, result.output, json.loads(result.stdout)
    except ValueError:
        return result.exit_code, result.output, None



def _answer(*configs: dict, explanation: str = "lr 1e-3 helps per SHAP") -> str:
    return json.dumps({"configs": list(configs), "explanation": explanation})


def test_no_llm_returns_the_meta_learner_best_and_logs_it(kb: dict) -> None:
    code, out, data = _recommend(kb, "--no-llm", "--evidence")
    assert code == 0, out
    rec = data["recommendation"]
    assert rec["source"] == "meta-learner" and kb["space"].without("dataset").validate_config(rec["config"]).ok
    assert len(rec["evidence"]) == 8 and rec["timings"]["total_s"] > 0
    (run,) = logged_runs(kb)
    assert run.job_type == "recommendation" and run.state == "finished"
    assert run.config["recommended"] == rec["config"] and run.summary["predicted/score"] == rec["predicted"]["score"]
    assert (Path(run.path) / "files" / "recommendation.json").is_file()


def test_no_llm_json_is_complete_and_the_text_says_what_to_do(kb: dict) -> None:
    code, out, data = _recommend(kb, "--no-llm", "--no-log")
    assert code == 0, out
    rec, advice = data["recommendation"], data["advice"]
    assert set(rec) == set(Recommendation.model_fields) and set(advice) == set(Advice.model_fields)
    assert data["evidence_read"] is False and rec["evidence"] == []  # Qdrant is not opened without --evidence
    assert advice["top_percent"] == top_percent(rec["predicted"]["score"]) and len(advice["reasons"]) == 3
    assert advice["caveat"] == ("too few runs to be confident: 24 runs over 4 datasets, so its held-out quality "
                                "rests on 4 datasets")  # 6 runs a dataset, 4 held out
    assert set(advice["commands"]) == {"train_here", "log_dataset", "enqueue"}

    text = CliRunner().invoke(main, ["recommend", "--project", EXPLAIN_PROJECT, "--meta-features", str(kb["mf"]),
                                     "--no-llm", "--no-log"]).output
    flat = " ".join(text.split())
    assert advice["headline"] in flat and all(r in flat for r in advice["reasons"])
    assert advice["commands"]["train_here"] in text and advice["commands"]["enqueue"] in text  # one line each


def test_no_llm_candidates_returns_the_meta_learners_portfolio(kb: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from metallmix_wandb.knowledge.meta_learner import model

    searches = []
    real_search = model.search
    monkeypatch.setattr(model, "search", lambda *a, **k: searches.append(1) or real_search(*a, **k))
    code, out, data = _recommend(kb, "--no-llm", "--no-log", "--candidates", "3")
    assert code == 0, out
    assert len(searches) == 1  # the portfolio's first is the recommendation: the space is searched once
    monkeypatch.setattr(model, "search", real_search)
    rec, space = data["recommendation"], kb["space"].without("dataset")
    configs = [c["config"] for c in rec["candidates"]]
    assert len(configs) == 3 and len({json.dumps(c, sort_keys=True) for c in configs}) == 3
    assert configs[0] == rec["config"] and all(space.validate_config(c).ok for c in configs)
    assert all(0 <= c["low"] <= c["score"] <= c["high"] <= 1 for c in rec["candidates"])
    from metallmix_wandb.knowledge.meta_learner.artifact import load_knowledge
    from metallmix_wandb.settings import load_settings

    settings = load_settings(project=EXPLAIN_PROJECT)
    learner = load_knowledge(EXPLAIN_PROJECT, settings.cache_dir, online=False).learner()
    assert configs == learner.recommend_n(rec["meta_features"], space, n=3)
    text = CliRunner().invoke(main, ["recommend", "--project", EXPLAIN_PROJECT, "--meta-features", str(kb["mf"]),
                                     "--no-llm", "--no-log", "--candidates", "3"]).output
    assert "3 configs to try, in order" in " ".join(text.split())
    code, out, _ = _recommend(kb, "--no-llm", "--no-log", "--candidates", "3", "--queue", "gpu")
    assert code == 2 and "tune --no-llm --budget 3" in " ".join(out.split()) and not logged_runs(kb)


def test_llm_candidates_are_ranked_by_the_meta_learner(kb: dict) -> None:
    weak = {"base_model": "mobilenet_v2", "fine_tuning": "feature_extraction", "learning_rate": 1e-05,
            "batch_size": 64, "dropout": 0.2}
    strong = {"base_model": "resnet50", "fine_tuning": "full", "learning_rate": 0.001, "batch_size": 16,
              "dropout": 0.4}
    judge = json.dumps({"format": 4, "accuracy": 3, "completeness": 3, "conciseness": 4, "fluency": 4,
                        "rationale": "ok"})
    with FakeLLMServer([llama_cpp_like(_answer(weak, strong)), llama_cpp_like(_answer(weak, strong)),
                        reply(judge)]) as server:
        code, out, data = _recommend(kb, "--base-url", server.base_url, "--model", "fake", "--candidates", "2",
                                     "--judge-repeats", "1", "--api-key", "sk-secret-123")
    assert code == 0, out
    rec = data["recommendation"]
    assert rec["source"] == "llm" and rec["llm_first_choice"]["learning_rate"] == 1e-05
    assert rec["config"]["learning_rate"] == 0.001 and rec["config"]["epochs"] == 10
    assert rec["judge_scores"]["accuracy"] == 3.0 and rec["raw_valid"] is True
    assert all(h.get("authorization") == "Bearer sk-secret-123" for h in server.headers)
    (run,) = logged_runs(kb)
    assert "sk-secret-123" not in Path(run.path).joinpath("files", "recommendation.json").read_text()
    assert "sk-secret-123" not in json.dumps(run.config) and "sk-secret-123" not in out


@pytest.mark.parametrize("bad", [
    _answer({"base_model": "gpt-9", "fine_tuning": "full", "learning_rate": 5.0, "batch_size": 7, "dropout": 0.9}),
    "Sure! Here is my recommendation: use a big model.",
    '{"configs": [{"base_model": "resnet50", "fine_tun',
])
def test_invalid_llm_answers_are_never_logged(kb: dict, bad: str) -> None:
    with FakeLLMServer([reply(bad)]) as server:
        code, out, data = _recommend(kb, "--base-url", server.base_url, "--model", "fake", "--max-repairs", "1",
                                     "--queue", "gpu", "--candidates", "1")
        assert len(server.requests) == 2  # the answer and one repair
    assert code == 2 and "Nothing was logged or enqueued" in out and data is None
    assert logged_runs(kb) == [] and not list(kb["runs"].parent.rglob("*.launch.json"))


def test_fallback_to_the_meta_learner_is_flagged(kb: dict) -> None:
    with FakeLLMServer([reply("no idea")]) as server:
        code, out, data = _recommend(kb, "--base-url", server.base_url, "--model", "fake", "--max-repairs", "0",
                                     "--fallback", "meta-learner", "--candidates", "1")
    assert code == 0, out
    rec = data["recommendation"]
    assert rec["source"] == "meta-learner-fallback" and rec["warnings"] and rec["raw_valid"] is False
    assert "gave no usable configuration" in rec["explanation"]


def test_unreachable_llm_is_a_clear_error(kb: dict) -> None:
    code, out, _ = _recommend(kb, "--base-url", "http://127.0.0.1:9/v1", "--model", "m")
    assert code == 2 and "127.0.0.1:9" in out and logged_runs(kb) == []


def test_queue_without_a_server_keeps_a_valid_spec(kb: dict) -> None:
    code, out, data = _recommend(kb, "--no-llm", "--queue", "gpu-queue", "--entity", "team")
    assert code == 3 and "not enqueued" in out
    spec = json.loads(Path(data["launch"]["spec"]).read_text())
    assert spec["queue"] == "gpu-queue" and spec["job"] == f"team/{EXPLAIN_PROJECT}/metallmix-train:latest"
    run_config = spec["overrides"]["run_config"]
    labels = run_config.pop("_metallmix_run")  # group/tags/notes for wandb.init (training/launch_spec.py)
    assert labels["group"].startswith("recommendation") and kb["space"].without("dataset").validate_config(run_config).ok


def test_judge_rescoring_a_logged_recommendation(kb: dict) -> None:
    assert _recommend(kb, "--no-llm")[0] == 0
    (run,) = logged_runs(kb)
    judge = json.dumps({"format": 2, "accuracy": 1, "completeness": 2, "conciseness": 3, "fluency": 3})
    with FakeLLMServer([reply(judge)]) as server:
        result = CliRunner().invoke(main, ["judge", run.path, "--project", EXPLAIN_PROJECT, "--base-url",
                                           server.base_url, "--model", "fake", "--repeats", "2"])
        assert len(server.requests) >= 2
        sent = server.requests[0]["messages"][-1]["content"]
        assert "meta-learner's best configuration" in sent and str(run.config["recommended"]["batch_size"]) in sent
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["scores"]["accuracy"] == 1.0


def _choose(pick: Callable[[list[dict]], int]) -> Callable[[dict], Any]:
    """An LLM that picks, by `pick(offered rows)`, one of the candidates it is offered (judge asks get scores)."""
    judge = json.dumps({"format": 4, "accuracy": 3, "completeness": 3, "conciseness": 4, "fluency": 4,
                        "rationale": "ok"})

    def step(req: dict) -> Reply:
        fmt = (req.get("response_format") or {}).get("json_schema") or {}
        if "response_format" not in req:  # the plain-text call for the explanation
            return Reply(200, completion("Its SHAP reasons fit."))
        if fmt.get("name") == "judgement" or "candidates" not in req["messages"][-1]["content"]:
            return Reply(200, completion(judge))
        _, data = split_data_block(req["messages"][1]["content"])
        answer = {"candidate": pick(table_rows(data["candidates"])), "config": None}
        return Reply(200, completion(json.dumps(answer)))

    return step


def _tied_last(rows: list[dict]) -> int:
    return max(r["id"] for r in rows if r["percentile"] >= rows[0]["percentile"] - TIE)


def _worst(rows: list[dict]) -> int:
    return min(rows, key=lambda r: (r["percentile"], -r["id"]))["id"]


def test_the_llm_chooses_a_tied_candidate_and_its_pick_stands(kb: dict) -> None:
    with FakeLLMServer([_choose(_tied_last)]) as server:
        code, out, data = _recommend(kb, "--base-url", server.base_url, "--model", "fake", "--judge-repeats", "1",
                                     "--no-log")
    assert code == 0, out
    rec = data["recommendation"]
    cs = rec["choice_set"]
    assert 5 <= len(cs["offered"]) <= 8 and [c["id"] for c in cs["offered"]] == list(range(1, len(cs["offered"]) + 1))
    picked = next(c for c in cs["offered"] if c["id"] == cs["pick"])
    assert rec["source"] == "llm" and not cs["overruled"] and rec["config"] == picked["scored"]["config"]
    assert rec["llm_explanation"] == "Its SHAP reasons fit." and rec["judge_scores"]["accuracy"] == 3.0
    assert rec["explanation"].startswith("LLM explanation rejected: too short")  # 4 words: the digest's is shown
    assert rec["raw_valid"] is True and rec["format_score_code"] == 4
    assert all(kb["space"].without("dataset").validate_config(c["scored"]["config"]).ok for c in cs["offered"])


def test_a_clearly_worse_pick_is_overruled_and_the_output_says_so(kb: dict) -> None:
    with FakeLLMServer([_choose(_worst)]) as server:
        code, out, data = _recommend(kb, "--base-url", server.base_url, "--model", "fake", "--no-judge", "--no-log")
        result = CliRunner().invoke(main, ["recommend", "--project", EXPLAIN_PROJECT, "--meta-features",
                                           str(kb["mf"]), "--base-url", server.base_url, "--model", "fake",
                                           "--no-judge", "--no-log"])
    assert code == 0, out
    rec = data["recommendation"]
    cs = rec["choice_set"]
    best = cs["offered"][0]["scored"]
    worst = min(cs["offered"], key=lambda c: (c["scored"]["score"], -c["id"]))  # the meta-learner's order blends
    assert cs["pick"] == worst["id"] and cs["pick_scored"]["score"] < best["score"] - TIE  # a GP: not by score
    assert cs["overruled"] and rec["config"] == best["config"] and rec["source"] == "meta-learner-fallback"
    assert any(w.startswith("LLM's pick overruled") for w in rec["warnings"])
    assert rec["explanation"].startswith("The LLM's pick was overruled")
    text = " ".join(result.output.split())
    assert result.exit_code == 0 and "candidates offered" in text
    assert f"LLM's pick: #{cs['pick']} (overruled)" in text and "warning: LLM's pick overruled" in text


def test_an_unusable_choice_falls_back_to_the_best_candidate_without_error(kb: dict) -> None:
    with FakeLLMServer([reply("no idea"), reply('{"candidate": 42, "config": null, "explanation": "x"}')]) as server:
        code, out, data = _recommend(kb, "--base-url", server.base_url, "--model", "fake", "--max-repairs", "1",
                                     "--no-log")
        assert len(server.requests) == 2  # the answer and one repair
    assert code == 0, out
    rec = data["recommendation"]
    assert rec["source"] == "meta-learner-fallback" and rec["choice_set"]["pick"] is None
    assert rec["config"] == rec["choice_set"]["offered"][0]["scored"]["config"] and rec["repairs"] == 1
    assert any(w.startswith("LLM fallback") and "42" in w for w in rec["warnings"])


def test_an_endpoints_judge_repeats_three_times_by_default(kb: dict) -> None:
    """--judge-repeats defaults to 3 for a model the user brings (1 only for the embedded demo model)."""
    with FakeLLMServer([_choose(_tied_last)]) as server:
        code, out, data = _recommend(kb, "--base-url", server.base_url, "--model", "fake", "--no-log")
        judge_asks = [r for r in server.requests
                      if ((r.get("response_format") or {}).get("json_schema") or {}).get("name") == "judgement"
                      or ("response_format" in r and "candidates" not in r["messages"][-1]["content"])]
    assert code == 0, out
    assert data["recommendation"]["judge_scores"]["accuracy"] == 3.0
    assert len(judge_asks) == 3
